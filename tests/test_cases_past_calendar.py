"""A farmer is never refused for a calendar: with time frozen on 30 December 2026, when the
installed `chinese_calendar` knows nothing of 2027, every kind of case is taken through every
way in (staff pages, the farmers' `/m/` pages, the API), with a provisional deadline in 2027."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.cases.calendar import package_covers
from subsidy.cases.models import Case, CaseKind
from subsidy.common.timeutil import CHINA_TZ
from subsidy.extensions import db
from subsidy.public import service as public
from tests.cases_support import VILLAGE
from tests.factories import HouseholdFactory, ProjectFactory, approved_filing
from tests.farmer_support import code_sent_to

LATE_DECEMBER = datetime(2026, 12, 30, 10, 0, tzinfo=CHINA_TZ)


@pytest.fixture(autouse=True)
def _no_padding(app, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0)


@pytest.fixture
def frozen():
    assert not package_covers(2027), "the test is about a year the package does not know"
    with time_machine.travel(LATE_DECEMBER, tick=False) as traveller:
        yield traveller


def newest_case() -> Case:
    db.session.rollback()
    return db.session.scalars(sa.select(Case).order_by(Case.id.desc())).first()


def assert_provisional_in_2027(case: Case, kind: CaseKind) -> None:
    assert case.kind is kind
    assert case.due_provisional
    assert case.due_at.astimezone(CHINA_TZ).year == 2027


def confirm_phone(client, phone: str, next_url: str) -> None:
    client.post("/m/login", data={"mode": "phone", "phone": phone, "next": next_url})
    assert client.post("/m/login/code", data={"code": code_sent_to(db, phone)}).status_code == 302


def publicized_entry() -> int:
    HouseholdFactory(region_code=VILLAGE, head_name="张建华")
    approved_filing(VILLAGE, project=ProjectFactory(name="地膜补贴", year=2026), state="publicizing")
    return public.village_board(VILLAGE).publicizing[0].lines[0].entry_id


@pytest.mark.parametrize("kind", ["inquiry", "complaint"])
def test_staff_page_takes_the_case(county, login_as, frozen, kind):
    web = login_as("township_reviewer", "640425100")
    resp = web.post("/cases/new", data={"kind": kind, "channel": "phone", "region_code": VILLAGE,
                                        "subject": "补贴什么时候发", "body": "去年的耕地补贴还没到", "entry_id": "",
                                        "contact_phone": "13909541234", "contact_name": "马大爷", "household_id": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    case = newest_case()
    assert_provisional_in_2027(case, CaseKind(kind))
    page = web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "暂定" in page


def test_staff_page_takes_an_objection(county, login_as, frozen):
    entry_id = publicized_entry()
    web = login_as("township_reviewer", "640425100")
    resp = web.post("/cases/new", data={"kind": "objection", "channel": "visit", "region_code": VILLAGE,
                                        "subject": "异议", "body": "该户已搬走", "entry_id": str(entry_id),
                                        "contact_phone": "13909541234", "contact_name": "", "household_id": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert_provisional_in_2027(newest_case(), CaseKind.objection)


@pytest.mark.parametrize("kind", ["inquiry", "complaint"])
def test_the_farmers_page_takes_the_case(app, county, frozen, kind):
    phone = app.test_client()
    confirm_phone(phone, "13700137000", "/m/cases/new")
    resp = phone.post("/m/cases/new", data={"kind": kind, "village": VILLAGE, "subject": "补贴没到账",
                                             "body": "耕地补贴还没有收到", "contact_name": "王先生"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    case = newest_case()
    assert_provisional_in_2027(case, CaseKind(kind))
    assert case.ref_no in resp.get_data(as_text=True) and "暂定" in resp.get_data(as_text=True)


def test_the_village_board_takes_an_objection(app, county, frozen):
    entry_id = publicized_entry()
    url = f"/m/villages/{VILLAGE}/entries/{entry_id}/objection"
    phone = app.test_client()
    confirm_phone(phone, "13700137001", url)
    resp = phone.post(url, data={"body": "该户去年已搬走，不应享受"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_provisional_in_2027(newest_case(), CaseKind.objection)


def test_not_received_opens_its_complaint(app, api_as, county):
    """没有收到 files a complaint by itself: it must be taken too."""
    from subsidy.households.models import Household
    from tests.test_payments_receipts import paid_world
    from tests.test_public import sign_in

    _w, _api, pays = paid_world(api_as, 1)
    mine = pays[0]
    with time_machine.travel(LATE_DECEMBER, tick=False):
        phone = app.test_client()
        sign_in(phone, db, db.session.get(Household, mine.household_id))
        resp = phone.post(f"/m/payments/{mine.id}/receipt", data={"answer": "denied", "sure": "1", "note": "没到账"})
    assert resp.status_code == 302
    assert_provisional_in_2027(newest_case(), CaseKind.complaint)


@pytest.mark.parametrize("kind", ["inquiry", "complaint", "objection"])
def test_the_api_takes_the_case_and_says_the_deadline_is_provisional(county, api_as, frozen, kind):
    entry_id = publicized_entry() if kind == "objection" else None
    api = api_as("township_reviewer", "640425100")
    resp = api.post("/api/v1/cases", json={"kind": kind, "region_code": VILLAGE, "subject": "问补贴",
                                            "body": "什么时候发", "contact_phone": "13909541234", "channel": "phone",
                                            "entry_id": entry_id})
    assert resp.status_code == 201, resp.json
    assert resp.json["due_provisional"] is True
    assert resp.json["due_at"].startswith("2027-")
    detail = api.get(f"/api/v1/cases/{resp.json['id']}").json
    assert detail["due_provisional"] is True


def test_a_deadline_within_the_known_year_is_not_provisional(county, api_as):
    with time_machine.travel(LATE_DECEMBER - timedelta(days=9), tick=False):
        resp = api_as("township_reviewer", "640425100").post("/api/v1/cases", json={
            "kind": "inquiry", "region_code": VILLAGE, "subject": "问补贴", "body": "什么时候发",
            "contact_phone": "13909541234", "channel": "phone"})
    assert resp.status_code == 201 and resp.json["due_provisional"] is False

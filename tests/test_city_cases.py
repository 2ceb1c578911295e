"""Up the chain (docs/design.md "Cases"): a complaint about a county's own staff goes to the city
and is hidden from that county; the city supervisor answers it, issues 督办 to a county's
handling units and transfers into any county of the city; a county never passes a case upwards
except by escalation, and an overdue county-handled case is escalated to the city. The SMS
signature is the nearest region's that has one."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.accounts.models import Role
from subsidy.cases import routing
from subsidy.cases.calendar import WorkCalendar
from subsidy.cases.escalation import run_escalation
from subsidy.cases.models import Case, CaseSettings, CaseState, WorkCalendarDay
from subsidy.cases.queries import transfer_targets
from subsidy.errors import NotFound
from subsidy.extensions import db
from subsidy.notify import outbox
from subsidy.notify.models import Message
from subsidy.regions.models import Region
from tests.cases_support import COUNTY, TOWNSHIP, VILLAGE, china, record
from tests.factories import UserFactory, make_city, make_user

T = china(2024, 3, 4, 9)  # a Monday
OTHER_COUNTY, OTHER_TOWNSHIP, OTHER_VILLAGE = "640402", "640402100", "640402100201"
CITY, OTHER_CITY_COUNTY = "6404", "640502"
COMPLAINT = {"kind": "complaint", "subject": "县里工作人员推诿", "body": "县农业农村局工作人员让我来回跑。"}


@pytest.fixture
def city(county, db):
    return make_city()


def _county_complaint(at=T):
    """A complaint about 640425's own staff, recorded by the village clerk who took the call."""
    clerk = make_user("village_clerk", VILLAGE)
    return record(clerk, at=at, region_code=COUNTY, **COMPLAINT)


def test_a_complaint_about_a_county_is_handled_by_the_city_and_hidden_from_the_county(city, api_as):
    case = _county_complaint()
    assert case.assigned_region_code == CITY and case.region_code == COUNTY
    for role, region in (("county_admin", COUNTY), ("county_reviewer", COUNTY), ("supervisor", COUNTY),
                         ("township_reviewer", TOWNSHIP), ("village_clerk", VILLAGE)):
        api = api_as(role, region)
        assert api.get(f"/api/v1/cases/{case.id}").status_code == 404, role
        assert case.id not in [c["id"] for c in api.get("/api/v1/cases?scope=all").json["items"]], role
    # another county's staff neither: it is neither about them nor handled by them
    assert api_as("county_admin", OTHER_COUNTY).get(f"/api/v1/cases/{case.id}").status_code == 404
    city_supervisor = api_as("city_supervisor", CITY)
    mine = city_supervisor.get("/api/v1/cases?scope=mine").json
    assert [c["id"] for c in mine["items"]] == [case.id]
    with time_machine.travel(T + timedelta(days=1), tick=False):
        assert city_supervisor.post(f"/api/v1/cases/{case.id}/accept", json={}).status_code == 200
        replied = city_supervisor.post(f"/api/v1/cases/{case.id}/reply",
                                       json={"body": "经核查，已责成县农业农村局整改。", "finding": "substantiated"})
    assert replied.status_code == 200, replied.json
    assert replied.json["state"] == "replied"
    # The reply is filed under the city, so no list of the accused county shows it.
    sms = db.session.scalar(sa.select(Message).where(Message.template == "case_replied"))
    assert sms.region_code == CITY and sms.body.startswith("【固原市惠农】")


def test_a_city_handled_case_takes_the_concerned_countys_limits_and_calendar(city):
    db.session.add(CaseSettings(county_code=COUNTY, inquiry_days=3, complaint_days=10, objection_days=5))
    # 640425 (only) rests on Friday 8 March: its deadline falls a working day later than 640402's
    db.session.add(WorkCalendarDay(county_code=COUNTY, day=china(2024, 3, 8).date(), is_workday=False, note="县休"))
    db.session.commit()
    case = _county_complaint()
    assert case.assigned_region_code == CITY and case.due_days == 10
    assert case.due_at == WorkCalendar(COUNTY).reckon(T, 10).at != WorkCalendar(OTHER_COUNTY).reckon(T, 10).at


def test_without_the_city_row_a_county_stays_the_top(county, db):
    assert routing.tier_above(COUNTY) == CITY
    assert routing.tier_above(TOWNSHIP) == COUNTY and routing.tier_above(CITY) == CITY
    db.session.delete(db.session.get(Region, CITY))
    db.session.commit()
    assert routing.tier_above(COUNTY) == COUNTY


def test_the_city_supervisors_duban_reaches_a_townships_handlers(city, api_as):
    handlers = [UserFactory(role=Role.township_reviewer, region_code=OTHER_TOWNSHIP, phone=f"1390954010{i}")
                for i in range(2)]
    UserFactory(role=Role.township_reviewer, region_code="640425100", phone="13909540199")  # another township
    db.session.commit()
    case = record(make_user("village_clerk", OTHER_VILLAGE), at=T, region_code=OTHER_VILLAGE)
    assert case.assigned_region_code == OTHER_TOWNSHIP
    supervisor = api_as("city_supervisor", CITY)
    with time_machine.travel(T + timedelta(days=1), tick=False):
        for bad in ("64", "6405", OTHER_TOWNSHIP, OTHER_VILLAGE):
            resp = supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "请加快", "region_code": bad})
            assert resp.status_code == 400, bad
        resp = supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "群众反映强烈，请三日内答复"})
        assert resp.status_code == 200, resp.json
        assert resp.json["escalated_to_code"] == OTHER_COUNTY
        again = supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "市级督办", "region_code": CITY})
        assert again.status_code == 200 and again.json["escalated_to_code"] == CITY
    reminders = db.session.scalars(sa.select(Message).where(Message.template == "case_reminder")).all()
    assert sorted(m.to_phone for m in reminders) == sorted([h.phone for h in handlers] * 2)
    assert all(m.region_code == OTHER_TOWNSHIP for m in reminders)
    # on the city's queue after its own 督办
    assert [c["id"] for c in supervisor.get("/api/v1/cases?scope=mine").json["items"]] == [case.id]


def test_the_city_transfers_into_a_county_of_the_city(city, api_as):
    case = _county_complaint()
    targets = {r.code for r in transfer_targets(case)}
    assert OTHER_COUNTY in targets and OTHER_TOWNSHIP in targets and OTHER_VILLAGE in targets
    assert not any(code.startswith(COUNTY) or code.startswith("6405") for code in targets)  # accused, other city
    assert CITY not in targets and "64" not in targets
    supervisor = api_as("city_supervisor", CITY)
    with time_machine.travel(T + timedelta(hours=2), tick=False):
        for bad in (TOWNSHIP, OTHER_CITY_COUNTY, "64"):
            resp = supervisor.post(f"/api/v1/cases/{case.id}/transfer", json={"region_code": bad, "reason": "转办"})
            assert resp.status_code == 400 and "region_code" in resp.json["error"]["fields"], bad
        resp = supervisor.post(f"/api/v1/cases/{case.id}/transfer",
                               json={"region_code": OTHER_COUNTY, "reason": "所涉人员属原州区，转原州区办理"})
    assert resp.status_code == 200, resp.json
    db.session.refresh(case)
    assert case.assigned_region_code == OTHER_COUNTY and case.state == CaseState.received
    assert api_as("county_reviewer", OTHER_COUNTY).get(f"/api/v1/cases/{case.id}").status_code == 200
    assert api_as("county_reviewer", COUNTY).get(f"/api/v1/cases/{case.id}").status_code == 404


def test_a_county_never_transfers_upwards(city, api_as):
    case = record(make_user("village_clerk", VILLAGE), at=T, region_code=TOWNSHIP, **COMPLAINT)
    assert case.assigned_region_code == COUNTY
    reviewer = api_as("county_reviewer", COUNTY)
    with time_machine.travel(T + timedelta(hours=2), tick=False):
        for target in (CITY, OTHER_COUNTY, OTHER_TOWNSHIP):
            resp = reviewer.post(f"/api/v1/cases/{case.id}/transfer", json={"region_code": target, "reason": "转办"})
            assert resp.status_code == 400 and resp.json["error"]["fields"]["region_code"], target
    assert not any(r.code == CITY or not r.code.startswith(COUNTY) for r in transfer_targets(case))
    db.session.refresh(case)
    assert case.assigned_region_code == COUNTY


def test_an_overdue_county_case_is_escalated_to_the_city(city, api_as):
    county_handler = UserFactory(role=Role.county_reviewer, region_code=COUNTY, phone="13909540301")
    city_handler = UserFactory(role=Role.city_supervisor, region_code=CITY, phone="13909540401")
    db.session.commit()
    on_county = record(make_user("village_clerk", VILLAGE), at=T, region_code=TOWNSHIP, **COMPLAINT)
    on_city = _county_complaint()
    due = max(on_county.due_at, on_city.due_at)
    with time_machine.travel(due + timedelta(days=1), tick=False):
        result = run_escalation()
    db.session.commit()
    assert result.escalated == 2
    db.session.refresh(on_county)
    db.session.refresh(on_city)
    assert on_county.escalated_to_code == CITY and on_city.escalated_to_code == CITY  # the city is the top
    queue = {c["id"] for c in api_as("city_supervisor", CITY).get("/api/v1/cases?scope=mine").json["items"]}
    assert queue == {on_county.id, on_city.id}
    reminders = {m.to_phone: m for m in db.session.scalars(sa.select(Message).where(
        Message.template == "case_reminder", Message.to_phone.is_not(None)))}
    assert set(reminders) == {county_handler.phone, city_handler.phone}
    assert reminders[county_handler.phone].body.startswith("【彭阳县惠农】")
    assert reminders[city_handler.phone].body.startswith("【固原市惠农】")


def test_the_signature_is_the_nearest_regions_that_has_one(city, app):
    assert outbox.signature_for(VILLAGE) == "【彭阳县惠农】"         # a farmer: the county's
    assert outbox.signature_for(OTHER_VILLAGE) == "【固原市惠农】"   # a county with none: the city's
    assert outbox.signature_for(CITY) == "【固原市惠农】"
    assert outbox.signature_for("640502100201") == app.config["SMS_SIGNATURE"]  # nothing above: the default
    db.session.get(Region, OTHER_VILLAGE).sms_signature = "【一村】"
    db.session.get(Region, "640425").sms_signature = ""
    db.session.flush()
    assert outbox.signature_for(OTHER_VILLAGE) == "【一村】"
    assert outbox.signature_for(VILLAGE) == "【固原市惠农】"  # an empty signature is none


def test_the_demo_has_a_complaint_the_city_handles_and_a_city_wide_policy(db):
    from subsidy.demo import load_demo
    from subsidy.policies.models import Policy, PolicyStatus

    load_demo(households_per_village=3)
    db.session.commit()
    case = db.session.scalar(sa.select(Case).where(Case.assigned_region_code == CITY))
    assert case is not None and case.region_code == "640425" and case.state == CaseState.in_progress
    policy = db.session.scalar(sa.select(Policy).where(Policy.county_code == CITY))
    assert policy.region_code == CITY and policy.status == PolicyStatus.published
    from subsidy.accounts.models import User
    from subsidy.cases.queries import get_case

    county_admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
    with pytest.raises(NotFound):
        get_case(county_admin, case.id)


def test_the_city_supervisors_pages(city, login_as):
    case = _county_complaint()
    with time_machine.travel(T + timedelta(hours=1), tick=False):
        web = login_as("city_supervisor", CITY)
        queue = web.get("/cases/")
        assert queue.status_code == 200 and case.ref_no in queue.get_data(as_text=True)
        page = web.get(f"/cases/{case.id}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "原州区" in text and "督办意见" in text
        assert web.post(f"/cases/{case.id}/accept", data={}).status_code == 302
    db.session.refresh(case)
    assert case.state == CaseState.in_progress
    assert login_as("county_admin", COUNTY).get(f"/cases/{case.id}").status_code == 404

"""One confirmed phone cannot flood the platform (security probe, finding 8; DESIGN.md §6
"Duplicate cases"): cases per phone and household per day are limited, a farmer's repeated
objection to the same entry is merged at once, and the handling unit merges duplicates without
hurting the completion rate."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.cases import service, stats
from subsidy.cases.models import Case, CaseState
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.notify.models import Message
from subsidy.public import service as public
from tests.cases_support import china
from tests.factories import HouseholdFactory, ProjectFactory, approved_filing, make_user
from tests.farmer_support import code_sent_to

VILLAGE = "640425100201"
MONDAY = china(2024, 6, 3)


@pytest.fixture(autouse=True)
def _no_padding(app, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0)


def confirmed_phone(app, phone: str):
    client = app.test_client()
    client.post("/m/login", data={"mode": "phone", "phone": phone})
    assert client.post("/m/login/code", data={"code": code_sent_to(db, phone)}).status_code == 302
    return client


def test_one_phone_files_at_most_the_days_limit_and_keeps_its_text(app, county, monkeypatch):
    monkeypatch.setitem(app.config, "CASES_PER_FARMER_PER_DAY", 3)
    with time_machine.travel(MONDAY, tick=False):
        phone = confirmed_phone(app, "13700137000")
        answers = [phone.post("/m/cases/new", data={"kind": "complaint", "village": VILLAGE, "subject": f"投诉{i}",
                                                      "body": f"第{i}件"}) for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3].get_data(as_text=True)
    assert "今天已提交 3 件诉求" in refused and "第3件" in refused and "投诉3" in refused  # nothing typed is lost
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 3
    with time_machine.travel(china(2024, 6, 4), tick=False):  # a new day
        assert phone.post("/m/cases/new", data={"kind": "inquiry", "village": VILLAGE, "subject": "问",
                                                "body": "答"}).status_code == 200


def test_a_repeated_objection_to_the_same_entry_is_merged_and_blocks_once(app, county):
    HouseholdFactory(region_code=VILLAGE, head_name="张建华")
    with time_machine.travel(MONDAY, tick=True):
        filing = approved_filing(VILLAGE, project=ProjectFactory(name="地膜补贴", year=2024), state="publicizing")
        entry_id = public.village_board(VILLAGE).publicizing[0].lines[0].entry_id
        url = f"/m/villages/{VILLAGE}/entries/{entry_id}/objection"
        phone = confirmed_phone(app, "13700137001")
        for text in ("该户已搬走", "再说一遍：该户已搬走", "第三遍"):
            assert phone.post(url, data={"body": text}).status_code == 200
    db.session.rollback()
    cases = db.session.scalars(sa.select(Case).order_by(Case.id)).all()
    assert [c.state for c in cases] == [CaseState.received, CaseState.merged, CaseState.merged]
    assert {c.merged_into_id for c in cases[1:]} == {cases[0].id}
    assert service.count_open_objections(filing.id) == 1
    merged_sms = db.session.scalars(sa.select(Message).where(Message.template == "case_merged")).all()
    assert len(merged_sms) == 2 and cases[0].ref_no in merged_sms[0].body


def test_the_handling_unit_merges_a_duplicate_and_the_rate_is_unhurt(county, db):
    township = make_user("township_reviewer", "640425100")
    with time_machine.travel(MONDAY, tick=False):
        first = service.record_case(township, kind="inquiry", channel="phone", region_code=VILLAGE, subject="补贴标准",
                                    body="每亩多少", contact_phone="13909541234")
        second = service.record_case(township, kind="inquiry", channel="phone", region_code=VILLAGE,
                                     subject="补贴标准（再问）", body="每亩多少钱", contact_phone="13909541234")
        complaint = service.record_case(township, kind="complaint", channel="phone", region_code=VILLAGE,
                                        subject="投诉", body="未发放", contact_phone="13909541234")
        db.session.commit()
        with pytest.raises(ValidationError) as exc:
            service.merge_case(township, first.id, second.ref_no, "重复")  # into a later one
        assert "更早" in exc.value.message
        with pytest.raises(ValidationError):
            service.merge_case(township, second.id, complaint.ref_no, "重复")  # another kind
        service.merge_case(township, second.id, first.ref_no, "同一人重复咨询")
        service.reply_case(township, first.id, "每亩 95 元。")
        db.session.commit()
    db.session.refresh(second)
    assert second.state == CaseState.merged and second.merged_into_id == first.id
    figures = stats.case_summary("640425100", 2024)  # received 1, completed 1: 100 %
    inquiries = figures["inquiries"]
    assert (inquiries["received"], inquiries["completed"], inquiries["completion_rate"]) == (1, 1, 1.0)


def test_merge_through_the_api_and_the_page(county, api_as, login_as, db):
    township = make_user("township_reviewer", "640425100")
    with time_machine.travel(MONDAY, tick=False):
        first = service.record_case(township, kind="inquiry", channel="phone", region_code=VILLAGE, subject="问",
                                    body="答", contact_phone="13909541234")
        second = service.record_case(township, kind="inquiry", channel="phone", region_code=VILLAGE, subject="问",
                                     body="答", contact_phone="13909541234")
        third = service.record_case(township, kind="inquiry", channel="phone", region_code=VILLAGE, subject="问",
                                    body="答", contact_phone="13909541234")
        db.session.commit()
        api = api_as("township_reviewer", "640425100")
        resp = api.post(f"/api/v1/cases/{second.id}/merge", json={"into": first.ref_no, "reason": "重复"})
        assert resp.status_code == 200 and resp.json["state"] == "merged" and resp.json["merged_into_id"] == first.id
        page = login_as("township_reviewer", "640425100")
        assert 'id="merge"' in page.get(f"/cases/{third.id}").get_data(as_text=True)
        bad = page.post(f"/cases/{third.id}/merge", data={"m-into": "ZX-1999-000001", "m-reason": "重复"})
        assert bad.status_code == 422 and "没有这个编号" in bad.get_data(as_text=True)
        ok = page.post(f"/cases/{third.id}/merge", data={"m-into": str(first.id), "m-reason": "重复"})
        assert ok.status_code == 302
    assert login_as("village_clerk", VILLAGE).post(f"/cases/{first.id}/merge", data={
        "m-into": str(second.id), "m-reason": "x"}).status_code in (403, 404)

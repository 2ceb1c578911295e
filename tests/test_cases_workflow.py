"""Cases: each transition and each refusal, routing, transfers, reference numbers, the reply
SMS, ratings and reopening, and the schema's own guard."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.exc import IntegrityError

from subsidy.cases import service, workflow
from subsidy.cases.models import Case, CaseEvent, CaseKind, CaseState, EventKind, Rating
from subsidy.cases.workflow import MACHINE, Action
from subsidy.errors import InvalidTransition, NotFound, PermissionDenied, StaleVersion, ValidationError
from subsidy.notify.models import Message
from subsidy.regions.models import Level, Region
from tests.cases_support import COUNTY, OTHER_TOWNSHIP, OTHER_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2, china, record
from tests.factories import HouseholdFactory, RegionFactory, make_user

T = china(2024, 3, 4, 9)  # a Monday


@pytest.fixture
def township(county):
    return make_user("township_reviewer", TOWNSHIP)


@pytest.fixture
def county_user(county):
    return make_user("county_reviewer", COUNTY)


def at(moment, fn, *args, **kw):
    with time_machine.travel(moment, tick=False):
        return fn(*args, **kw)


def events(case):
    return [e.kind for e in case.events]


# ---------------------------------------------------------------- receiving and routing


def test_record_through_the_api(api_as):
    client = api_as("township_reviewer", TOWNSHIP)
    with time_machine.travel(T, tick=False):
        resp = client.post("/api/v1/cases", json={
            "kind": "inquiry", "region_code": VILLAGE, "subject": "补贴标准", "body": "今年每亩补多少？",
            "contact_phone": "13909541234", "channel": "phone"})
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["ref_no"] == "ZX-2024-000001"
    assert body["state"] == "received" and body["assigned_region_code"] == TOWNSHIP
    assert body["due_at"].startswith("2024-03-07T15:59:59")  # 23:59:59 China time on Thu 7 Mar, as UTC
    detail = client.get(f"/api/v1/cases/{body['id']}").json
    assert [e["kind"] for e in detail["events"]] == ["received"]


def test_bad_input_is_400_with_fields(api_as):
    client = api_as("township_reviewer", TOWNSHIP)
    with time_machine.travel(T, tick=False):
        resp = client.post("/api/v1/cases", json={"kind": "praise", "region_code": "64", "subject": "", "body": "x",
                                                  "contact_phone": "123", "channel": "mobile"})
    assert resp.status_code == 400
    assert set(resp.json["error"]["fields"]) >= {"kind", "region_code", "subject", "contact_phone", "channel"}


def test_reference_numbers_run_per_kind_and_year(county, township):
    a = record(township, at=T)
    b = record(township, at=T)
    c = record(township, at=T, kind="complaint")
    d = record(township, at=china(2025, 1, 6))
    assert [a.ref_no, b.ref_no, c.ref_no, d.ref_no] == ["ZX-2024-000001", "ZX-2024-000002", "TS-2024-000001",
                                                         "ZX-2025-000001"]


@pytest.mark.parametrize(("kind", "region", "assigned"), [
    ("inquiry", VILLAGE, TOWNSHIP),
    ("inquiry", TOWNSHIP, TOWNSHIP),
    ("inquiry", COUNTY, COUNTY),
    ("complaint", VILLAGE, TOWNSHIP),   # to the township, never to the village it accuses
    ("complaint", TOWNSHIP, COUNTY),    # a complaint about a township goes to the county
])
def test_routing(county, county_user, kind, region, assigned):
    assert record(county_user, at=T, kind=kind, region_code=region).assigned_region_code == assigned


def test_a_complaint_must_name_a_village_or_township(county, county_user, db):
    # Without the city's row nobody above the county could answer a complaint about it (with
    # the row, it goes to the city: tests/test_city_cases.py).
    db.session.delete(db.session.get(Region, "6404"))
    db.session.commit()
    with pytest.raises(ValidationError) as exc:
        record(county_user, at=T, kind="complaint", region_code=COUNTY)
    assert "region_code" in exc.value.fields


def test_staff_record_only_in_their_county_and_by_staff_channels(county, township):
    RegionFactory(code="640402", name="原州区", level=Level.county)
    with pytest.raises(ValidationError) as exc:
        record(township, at=T, region_code="640402")
    assert "region_code" in exc.value.fields
    with pytest.raises(ValidationError) as exc:
        record(township, at=T, channel="mobile")
    assert "channel" in exc.value.fields


def test_supervisor_cannot_record_or_handle(county, township):
    supervisor = make_user("supervisor", COUNTY)
    with pytest.raises(PermissionDenied):
        record(supervisor, at=T)
    case = record(township, at=T)
    with pytest.raises(PermissionDenied):
        at(T, service.reply_case, supervisor, case.id, "答复")


def test_the_schema_refuses_a_complaint_handled_by_the_accused(county, township, db):
    case = record(township, at=T, kind="complaint")
    with pytest.raises(IntegrityError):  # the CHECK constraint refuses the UPDATE as it runs
        db.session.execute(sa.update(Case).where(Case.id == case.id).values(assigned_region_code=VILLAGE))
    db.session.rollback()


# ---------------------------------------------------------------- the transitions


def test_the_table_is_the_whole_story():
    # Every action is reachable from some state and every open state can be replied to.
    assert {r.action for r in MACHINE.rules} == set(Action)
    assert workflow.sources(Action.reply) == [CaseState.received, CaseState.in_progress]
    assert set(workflow.sources(Action.escalate)) == {CaseState.received, CaseState.in_progress}


def test_accept_then_reply_completes_and_texts_the_farmer(county, township, db):
    case = record(township, at=T)
    at(T + timedelta(hours=1), service.accept_case, township, case.id)
    assert case.state == CaseState.in_progress and case.accepted_at is not None
    at(china(2024, 3, 5, 16), service.reply_case, township, case.id, "3 月底前发放到一卡通。")
    db.session.commit()
    assert case.state == CaseState.replied and case.completed_late is False
    assert case.reply_working_days == 1
    assert events(case) == [EventKind.received, EventKind.accepted, EventKind.replied]
    sms = db.session.scalar(sa.select(Message).where(Message.case_id == case.id))
    assert sms.key == f"case_replied:{case.id}:1" and sms.template == "case_replied"
    assert case.ref_no in sms.body and sms.to_phone == "13909541234"


def test_reply_straight_from_received(county, township):
    case = record(township, at=T)
    at(T, service.reply_case, township, case.id, "已答复")
    assert case.state == CaseState.replied and case.accepted_at is not None


def test_a_reply_after_the_deadline_is_completed_late(county, township):
    case = record(township, at=T)  # due Thu 7 Mar 23:59:59
    at(china(2024, 3, 7, 23, 59), service.reply_case, township, case.id, "答复")
    assert case.completed_late is False
    late = record(township, at=T)
    at(china(2024, 3, 8, 0, 1), service.reply_case, township, late.id, "答复")
    assert late.completed_late is True and late.reply_working_days == 4


def test_transfer_to_a_village_keeps_the_clock_and_the_village_can_reply(county, township, db):
    case = record(township, at=T)
    due = case.due_at
    at(T, service.accept_case, township, case.id)
    at(T, service.transfer_case, township, case.id, VILLAGE, "村里更清楚")
    db.session.commit()
    assert case.state == CaseState.received and case.assigned_region_code == VILLAGE and case.due_at == due
    event = case.events[-1]
    assert event.kind == EventKind.transferred and event.note == "村里更清楚"
    assert (event.from_region_code, event.to_region_code) == (TOWNSHIP, VILLAGE)
    clerk = make_user("village_clerk", VILLAGE)
    at(T, service.reply_case, clerk, case.id, "村里已核实")
    assert case.state == CaseState.replied


def test_a_misrouted_case_goes_to_another_township_of_the_county(county, township):
    case = record(township, at=T, region_code=VILLAGE)
    at(T, service.transfer_case, township, case.id, OTHER_TOWNSHIP, "应由王洼镇办理")
    assert case.assigned_region_code == OTHER_TOWNSHIP
    # The township that gave it away no longer handles it.
    with pytest.raises(PermissionDenied):
        at(T, service.reply_case, township, case.id, "答复")


@pytest.mark.parametrize(("target", "reason", "field"), [
    (TOWNSHIP, "原因", "region_code"),         # already there
    ("640402", "原因", "region_code"),         # another county
    ("640425999", "原因", "region_code"),      # no such region
    (VILLAGE_2, "", "reason"),                 # no reason
    (None, "原因", "region_code"),             # no unit
])
def test_transfer_refusals(county, township, target, reason, field):
    RegionFactory(code="640402", name="原州区", level=Level.county)
    case = record(township, at=T)
    with pytest.raises(ValidationError) as exc:
        at(T, service.transfer_case, township, case.id, target, reason)
    assert field in exc.value.fields


def test_a_complaint_is_never_transferred_to_the_village_it_accuses(county, township):
    case = record(township, at=T, kind="complaint", region_code=VILLAGE)
    with pytest.raises(ValidationError, match="被投诉"):
        at(T, service.transfer_case, township, case.id, VILLAGE, "请村里处理")
    at(T, service.transfer_case, township, case.id, VILLAGE_2, "邻村调查")  # another village is allowed
    assert case.assigned_region_code == VILLAGE_2
    about_township = record(township, at=T, kind="complaint", region_code=OTHER_TOWNSHIP)
    county_user = make_user("county_reviewer", COUNTY)
    with pytest.raises(ValidationError):
        at(T, service.transfer_case, county_user, about_township.id, OTHER_VILLAGE, "下放")


def test_reject_excludes_and_is_final(county, township):
    case = record(township, at=T)
    with pytest.raises(ValidationError):
        at(T, service.reject_case, township, case.id, "  ")
    at(T, service.reject_case, township, case.id, "重复诉求，见 ZX-2024-000001")
    assert case.state == CaseState.rejected and case.reject_reason.startswith("重复")
    for action in (lambda: service.reply_case(township, case.id, "答复"),
                   lambda: service.accept_case(township, case.id),
                   lambda: service.transfer_case(township, case.id, VILLAGE, "转"),
                   lambda: service.reject_case(township, case.id, "再次")):
        with pytest.raises(InvalidTransition):
            at(T, action)


def test_refusals_name_the_state(county, township):
    case = record(township, at=T)
    at(T, service.accept_case, township, case.id)
    with pytest.raises(InvalidTransition, match="办理中"):
        at(T, service.accept_case, township, case.id)
    at(T, service.reply_case, township, case.id, "答复")
    with pytest.raises(InvalidTransition, match="已答复"):
        at(T, service.reply_case, township, case.id, "再答复")
    with pytest.raises(InvalidTransition):
        at(T, service.transfer_case, township, case.id, VILLAGE, "转")
    with pytest.raises(ValidationError):
        at(T, service.reply_case, township, record(township, at=T).id, "")


def test_a_stale_handler_loses(county, township, db):
    case = record(township, at=T)
    # Another handler changes the case after this one read it.
    db.session.execute(sa.update(Case).where(Case.id == case.id).values(version=Case.version + 1)
                       .execution_options(synchronize_session=False))
    with pytest.raises(StaleVersion):
        at(T, workflow.apply, case, Action.transfer, actor=township, values={"assigned_region_code": VILLAGE})


# ---------------------------------------------------------------- ratings


def test_farmer_rating_satisfied_closes(county, township, db):
    household = HouseholdFactory(region_code=VILLAGE)
    case = record(township, at=T, household_id=household.id)
    at(T, service.reply_case, township, case.id, "答复")
    with pytest.raises(NotFound):
        service.rate_case(case.id, "满意", household_id=household.id + 1)
    with pytest.raises(NotFound):
        service.rate_case(case.id, "满意", phone="13900000000")
    at(T + timedelta(days=1), service.rate_case, case.id, "满意", household_id=household.id)
    assert case.state == CaseState.closed and case.rating == Rating.satisfied and case.closed_at is not None
    assert events(case)[-1] == EventKind.rated and case.events[-1].actor_name == "农户"
    with pytest.raises(InvalidTransition):
        service.rate_case(case, "非常满意", household_id=household.id)


def test_unsatisfied_reopens_to_the_same_unit_with_a_new_deadline(county, township, db):
    case = record(township, at=T)
    at(T, service.reply_case, township, case.id, "答复")
    with pytest.raises(ValidationError) as exc:
        at(T, service.rate_case, case, "不满意", phone="13909541234")
    assert "reason" in exc.value.fields
    at(china(2024, 3, 11, 9), service.rate_case, case, "dissatisfied", "没有说清楚发放时间", phone="13909541234")
    assert case.state == CaseState.in_progress and case.reopen_count == 1
    assert case.assigned_region_code == TOWNSHIP and case.rating == Rating.dissatisfied
    assert case.due_at > china(2024, 3, 14) and case.due_at < china(2024, 3, 15)  # 3 working days from Mon 11 Mar
    assert events(case)[-2:] == [EventKind.rated, EventKind.reopened]
    at(china(2024, 3, 12, 9), service.reply_case, township, case.id, "3 月 28 日发放")
    db.session.commit()
    keys = sorted(db.session.scalars(sa.select(Message.key).where(Message.case_id == case.id)))
    assert keys == [f"case_replied:{case.id}:1", f"case_replied:{case.id}:2"]


def test_a_rating_before_the_reply_is_refused(county, township):
    case = record(township, at=T)
    with pytest.raises(InvalidTransition):
        service.rate_case(case, "满意", phone="13909541234")


def test_staff_record_a_rating_but_not_for_their_own_reply(county, township, county_user, api_as):
    case = record(township, at=T)
    at(T, service.reply_case, township, case.id, "答复")
    with pytest.raises(PermissionDenied):
        service.record_rating(township, case.id, "非常满意")
    client = api_as("county_reviewer", COUNTY)
    resp = client.post(f"/api/v1/cases/{case.id}/rating", json={"rating": "非常满意"})
    assert resp.status_code == 200 and resp.json["state"] == "closed" and resp.json["rating"] == "very_satisfied"
    bad = client.post(f"/api/v1/cases/{case.id}/rating", json={"rating": "还行"})
    assert bad.status_code in (400, 409)


# ---------------------------------------------------------------- the API actions


def test_api_actions_and_their_refusals(county, api_as):
    township = api_as("township_reviewer", TOWNSHIP)
    with time_machine.travel(T, tick=False):
        case_id = township.post("/api/v1/cases", json={
            "kind": "complaint", "region_code": VILLAGE, "subject": "优亲厚友", "body": "村主任把补贴给了亲戚",
            "contact_phone": "13909541234", "channel": "visit"}).json["id"]
        assert township.post(f"/api/v1/cases/{case_id}/transfer",
                             json={"region_code": VILLAGE, "reason": "请村里说明"}).status_code == 400
        assert township.post(f"/api/v1/cases/{case_id}/accept", json={}).json["state"] == "in_progress"
        # A complaint is closed with its finding (issue 17): without one, or with a made-up one, refused.
        for body in ({"body": "经核查属实，已责令整改。"}, {"body": "经核查属实。", "finding": "true"}):
            refused = township.post(f"/api/v1/cases/{case_id}/reply", json=body)
            assert refused.status_code == 400 and "核查结论" in refused.json["error"]["fields"]["finding"]
        reply = township.post(f"/api/v1/cases/{case_id}/reply", json={"body": "经核查属实，已责令整改。",
                                                                       "finding": "substantiated"})
        assert reply.status_code == 200 and reply.json["state"] == "replied"
        assert reply.json["finding"] == "substantiated"
        again = township.post(f"/api/v1/cases/{case_id}/reply", json={"body": "再次", "finding": "substantiated"})
        assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"
        assert township.post(f"/api/v1/cases/{case_id}/reject", json={"reason": "x"}).status_code == 409
        clerk = api_as("village_clerk", VILLAGE_2)
        assert clerk.post(f"/api/v1/cases/{case_id}/reply", json={"body": "x"}).status_code == 404


# ---------------------------------------------------------------- visibility


def test_a_complaint_about_a_village_is_never_visible_to_its_clerk(county, township, api_as, login_as, db):
    complaint = record(township, at=T, kind="complaint", region_code=VILLAGE, subject="村会计截留补贴")
    inquiry = record(township, at=T, kind="inquiry", region_code=VILLAGE, subject="问补贴标准")
    # Even once the complaint is handled by another village, or escalated, or replied.
    at(T, service.transfer_case, township, complaint.id, VILLAGE_2, "邻村调查")

    api = api_as("village_clerk", VILLAGE)
    listed = api.get("/api/v1/cases?scope=all").json
    assert [c["id"] for c in listed["items"]] == [inquiry.id]
    assert api.get(f"/api/v1/cases/{complaint.id}").status_code == 404
    assert api.get("/api/v1/cases?scope=all&kind=complaint").json["total"] == 0
    assert api.post(f"/api/v1/cases/{complaint.id}/reply", json={"body": "x"}).status_code == 404

    web = login_as("village_clerk", VILLAGE)
    page = web.get("/cases/?scope=all&state=").get_data(as_text=True)
    assert "问补贴标准" in page and "村会计截留补贴" not in page and complaint.ref_no not in page
    assert web.get(f"/cases/{complaint.id}").status_code == 404
    assert web.post(f"/cases/{complaint.id}/reply", data={"body": "x"}).status_code == 404

    # The township and the village handling it do see it.
    assert api_as("township_reviewer", TOWNSHIP).get(f"/api/v1/cases/{complaint.id}").status_code == 200
    assert api_as("village_clerk", VILLAGE_2).get(f"/api/v1/cases/{complaint.id}").status_code == 200


def test_a_complaint_about_a_township_is_hidden_from_it_and_its_villages(county, county_user, api_as):
    complaint = record(county_user, at=T, kind="complaint", region_code=TOWNSHIP, subject="镇里拖延发放")
    assert complaint.assigned_region_code == COUNTY
    for role, code in (("township_reviewer", TOWNSHIP), ("village_clerk", VILLAGE), ("supervisor", TOWNSHIP)):
        client = api_as(role, code)
        assert client.get(f"/api/v1/cases/{complaint.id}").status_code == 404, role
        assert client.get("/api/v1/cases?scope=all").json["total"] == 0, role
    assert api_as("supervisor", COUNTY).get(f"/api/v1/cases/{complaint.id}").status_code == 200
    assert api_as("township_reviewer", OTHER_TOWNSHIP).get(f"/api/v1/cases/{complaint.id}").status_code == 404


def test_a_clerk_may_record_a_complaint_about_their_village_and_then_not_see_it(county, login_as, db):
    with time_machine.travel(T, tick=False):
        web = login_as("village_clerk", VILLAGE)
        resp = web.post("/cases/new", data={"kind": "complaint", "channel": "visit", "region_code": VILLAGE,
                                            "contact_phone": "13909541234", "subject": "投诉村干部",
                                            "body": "来访投诉", "entry_id": "", "household_id": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/cases/")
    case = db.session.scalar(sa.select(Case))
    assert case.kind == CaseKind.complaint and case.assigned_region_code == TOWNSHIP
    with time_machine.travel(T, tick=False):
        assert web.get(f"/cases/{case.id}").status_code == 404


def test_the_audit_log_records_each_step(county, township, db):
    from subsidy.audit.models import AuditEvent

    case = record(township, at=T)
    at(T, service.reply_case, township, case.id, "答复")
    db.session.commit()
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "case")).all()
    assert actions == ["case.receive", "case.reply"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 2

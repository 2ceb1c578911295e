"""督办 (DESIGN.md "Cases"): the nightly command marks overdue cases the day after their
deadline, escalates them to the tier above and reminds the handling unit, once; a supervisor's
督办 with a note; replied cases unrated for 7 days are closed."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.accounts.models import Role
from subsidy.cases import service
from subsidy.cases.escalation import run_escalation
from subsidy.cases.models import Case, CaseEvent, CaseState, EventKind
from subsidy.notify.models import Message, MessageStatus
from tests.cases_support import COUNTY, TOWNSHIP, VILLAGE, china, record
from tests.factories import UserFactory

T = china(2024, 3, 4, 9)       # Monday; an inquiry is due Thu 7 Mar 23:59:59
DAY_AFTER = china(2024, 3, 8, 2)


@pytest.fixture
def township(county, db):
    user = UserFactory(role=Role.township_reviewer, region_code=TOWNSHIP, phone="13909540001", name="镇经办")
    UserFactory(role=Role.township_reviewer, region_code=TOWNSHIP, phone="13909540002")
    UserFactory(role=Role.township_reviewer, region_code=TOWNSHIP, phone=None)  # no phone: not texted
    db.session.commit()
    return user


def escalate(at, db):
    with time_machine.travel(at, tick=False):
        result = run_escalation()
    db.session.commit()
    return result


def escalations(case_id, db):
    return db.session.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == EventKind.escalated))


def test_overdue_the_day_after_the_deadline_and_only_once(township, db, runner):
    case = record(township, at=T)
    assert escalate(china(2024, 3, 7, 23, 0), db).escalated == 0   # still the last day
    first = escalate(DAY_AFTER, db)
    assert (first.escalated, first.reminders) == (1, 2)
    db.session.refresh(case)
    assert case.overdue_at is not None and case.escalated_to_code == COUNTY and case.escalation_count == 1
    assert case.state == CaseState.received  # 督办 does not change the state

    again = escalate(china(2024, 3, 8, 9), db)                         # the same day, again
    assert (again.escalated, again.reminders) == (0, 0)
    with time_machine.travel(china(2024, 3, 8, 22), tick=False):
        result = runner.invoke(args=["cases", "escalate"])
    assert result.exit_code == 0 and "escalated 0" in result.output
    assert escalate(china(2024, 3, 9, 2), db).escalated == 0            # and the next day
    assert escalations(case.id, db) == 1
    reminders = db.session.scalars(sa.select(Message).where(Message.template == "case_reminder")).all()
    assert sorted(m.to_phone for m in reminders) == ["13909540001", "13909540002"]
    assert all(case.ref_no in m.body and m.case_id == case.id for m in reminders)


def test_the_command_line(township, db, runner):
    record(township, at=T)
    with time_machine.travel(DAY_AFTER, tick=False):
        result = runner.invoke(args=["cases", "escalate"])
    assert result.exit_code == 0, result.output
    assert "escalated 1 overdue case(s), 2 reminder SMS" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.overdue_at.is_not(None))) == 1


def test_escalated_to_the_tier_above_and_visible_in_its_queue(township, db, api_as):
    case = record(township, at=T)
    with time_machine.travel(T, tick=False):
        service.transfer_case(township, case.id, VILLAGE, "请村里答复")
    db.session.commit()
    county_api = api_as("county_reviewer", COUNTY)
    township_api = api_as("township_reviewer", TOWNSHIP)
    assert township_api.get("/api/v1/cases?scope=mine").json["total"] == 0
    result = escalate(DAY_AFTER, db)
    assert result.escalated == 1
    # A village-handled case goes up to its township; the village has no user with a phone,
    # so the reminder is recorded as failed rather than silently skipped.
    db.session.refresh(case)
    assert case.escalated_to_code == TOWNSHIP
    mine = township_api.get("/api/v1/cases?scope=mine").json
    assert [c["id"] for c in mine["items"]] == [case.id]
    assert county_api.get("/api/v1/cases?scope=mine").json["total"] == 0
    reminder = db.session.scalar(sa.select(Message).where(Message.template == "case_reminder"))
    assert reminder.status == MessageStatus.failed and reminder.to_phone is None and reminder.region_code == VILLAGE


def test_a_replied_case_is_not_escalated(township, db):
    case = record(township, at=T)
    with time_machine.travel(china(2024, 3, 7, 20), tick=False):
        service.reply_case(township, case.id, "答复")
    db.session.commit()
    assert escalate(DAY_AFTER, db).escalated == 0


def test_a_reopened_case_late_again_is_escalated_again(township, db):
    case = record(township, at=T)
    escalate(DAY_AFTER, db)
    with time_machine.travel(china(2024, 3, 8, 10), tick=False):
        service.reply_case(township, case.id, "答复")
    with time_machine.travel(china(2024, 3, 11, 10), tick=False):
        service.rate_case(case, "非常不满意", "答非所问", phone=case.contact_phone)
    db.session.commit()
    assert case.overdue_at is None and case.escalated_to_code is None
    assert escalate(china(2024, 3, 14, 12), db).escalated == 0   # new deadline: Thu 14 Mar
    assert escalate(china(2024, 3, 15, 1), db).escalated == 1
    assert escalations(case.id, db) == 2


def test_replied_cases_unrated_for_seven_days_close(township, db):
    unrated = record(township, at=T)
    rated = record(township, at=T)
    with time_machine.travel(china(2024, 3, 5, 10), tick=False):
        service.reply_case(township, unrated.id, "答复")
        service.reply_case(township, rated.id, "答复")
    with time_machine.travel(china(2024, 3, 6, 10), tick=False):
        service.rate_case(rated, "不满意", "没解决", phone=rated.contact_phone)
    db.session.commit()
    assert escalate(china(2024, 3, 12, 9), db).closed == 0
    result = escalate(china(2024, 3, 12, 10, 30), db)
    assert result.closed == 1
    db.session.refresh(unrated)
    assert unrated.state == CaseState.closed and unrated.closed_at is not None and unrated.rating is None
    assert unrated.events[-1].kind == EventKind.closed
    assert escalate(china(2024, 3, 12, 11), db).closed == 0


def test_a_supervisor_issues_a_duban_with_a_note(township, db, api_as):
    case = record(township, at=T)
    supervisor = api_as("supervisor", COUNTY)
    with time_machine.travel(T + timedelta(days=1), tick=False):
        resp = supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "群众反映强烈，请加快办理"})
        assert resp.status_code == 200, resp.json
        assert resp.json["escalated_to_code"] == COUNTY and resp.json["escalation_count"] == 1
        assert supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": ""}).status_code == 400
        assert supervisor.post(f"/api/v1/cases/{case.id}/escalate",
                               json={"reason": "x", "region_code": VILLAGE}).status_code == 400
        reviewer = api_as("township_reviewer", TOWNSHIP)
        assert reviewer.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "x"}).status_code == 403
    event = db.session.scalar(sa.select(CaseEvent).where(CaseEvent.kind == EventKind.escalated))
    assert event.note == "群众反映强烈，请加快办理" and event.to_region_code == COUNTY
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(Message.template == "case_reminder")) == 2
    with time_machine.travel(T + timedelta(days=1), tick=False):
        service.reply_case(township, case.id, "已答复")
        db.session.commit()
        closed = supervisor.post(f"/api/v1/cases/{case.id}/escalate", json={"reason": "再督办"})
    assert closed.status_code == 409


def test_a_supervisor_escalating_from_the_page(township, db, login_as):
    case = record(township, at=T)
    with time_machine.travel(T + timedelta(days=1), tick=False):
        web = login_as("supervisor", COUNTY)
        page = web.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "督办意见" in page and "答复并办结" not in page
        resp = web.post(f"/cases/{case.id}/escalate", data={"e-reason": "请三日内答复"})
        assert resp.status_code == 302
        page = web.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "请三日内答复" in page

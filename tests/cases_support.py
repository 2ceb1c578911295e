"""Shared set-up for the cases tests: China-time instants, staff cases through the service,
and set-based bulk cases built exactly as the service builds them (deadline from the working-day
calendar, reference numbers from the counters, timeline events), so that the statistics cannot
tell them from cases received one by one."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import time_machine

from subsidy.cases import service
from subsidy.cases.calendar import WorkCalendar, local_date
from subsidy.cases.deadlines import DEFAULT_DAYS
from subsidy.cases.models import (
    KIND_PREFIX,
    Case,
    CaseCounter,
    CaseEvent,
    CaseKind,
    CaseState,
    Channel,
    EventKind,
    Rating,
)
from subsidy.common.timeutil import CHINA_TZ
from subsidy.extensions import db

VILLAGE = "640425100201"
VILLAGE_2 = "640425100202"
TOWNSHIP = "640425100"
OTHER_TOWNSHIP = "640425101"
OTHER_VILLAGE = "640425101201"
COUNTY = "640425"




def china(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An instant given as China wall-clock time."""
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def due_local(case: Case) -> datetime:
    return case.due_at.astimezone(CHINA_TZ)


def record(actor, at: datetime | None = None, commit: bool = True, **kw) -> Case:
    """A case recorded by staff through the service, at China time `at` (default: now)."""
    data = {"kind": "inquiry", "channel": "phone", "region_code": VILLAGE, "subject": "补贴什么时候发",
            "body": "想问一下今年的耕地地力保护补贴什么时候发放。", "contact_phone": "13909541234",
            "contact_name": "马大爷"}
    data.update(kw)
    if at is None:
        case = service.record_case(actor, **data)
    else:
        with time_machine.travel(at, tick=False):
            case = service.record_case(actor, **data)
    if commit:
        db.session.commit()
    return case


def _next_numbers(kind: CaseKind, year: int, count: int) -> range:
    row = db.session.get(CaseCounter, (kind, year))
    first = (row.last if row else 0) + 1
    if row is None:
        db.session.add(CaseCounter(kind=kind, year=year, last=first + count - 1))
    else:
        row.last = first + count - 1
    db.session.flush()
    return range(first, first + count)


def bulk_cases(kind: CaseKind, count: int, *, region_code: str, assigned: str, received: list[datetime],
               state: CaseState = CaseState.received, reply_after_days: int | None = None, late: bool = False,
               rating: Rating | None = None, channel: Channel = Channel.mobile, days: int | None = None) -> int:
    """Insert `count` cases in one statement per table. `received` gives the receipt instants,
    cycled. Completed cases (replied/closed) are replied `reply_after_days` calendar days after
    receipt, or, with `late=True`, two weeks after their deadline. Returns the count inserted."""
    if count == 0:
        return 0
    cal = WorkCalendar(region_code)
    days = days or DEFAULT_DAYS[kind]
    year = local_date(received[0]).year
    numbers = _next_numbers(kind, year, count)
    rows, deadlines = [], {}
    for i, number in enumerate(numbers):
        at = received[i % len(received)].astimezone(UTC)
        key = local_date(at)
        if key not in deadlines:
            deadlines[key] = cal.deadline(at, days)
        due = deadlines[key]
        row = {"ref_no": f"{KIND_PREFIX[kind]}-{year}-{number:06d}", "kind": kind, "channel": channel, "state": state,
               "version": 1, "region_code": region_code, "assigned_region_code": assigned, "contact_name": "",
               "contact_phone": f"139{number:08d}", "subject": "批量诉求", "body": "批量诉求内容",
               "received_at": at, "clock_from": at, "due_days": days, "due_at": due, "escalation_count": 0,
               "reopen_count": 0, "completed_late": False, "entry_id": None, "rating": None}
        if state in (CaseState.replied, CaseState.closed):
            replied = due + timedelta(days=14) if late else at + timedelta(days=reply_after_days or 1)
            row.update(replied_at=replied, accepted_at=at, reply_body="已答复", completed_late=replied > due,
                       reply_working_days=cal.working_days_between(local_date(at), local_date(replied)))
            if state == CaseState.closed:
                row.update(closed_at=replied + timedelta(days=1), rating=rating,
                           rated_at=replied + timedelta(days=1) if rating else None)
        elif state == CaseState.rejected:
            row.update(reject_reason="重复诉求", closed_at=at + timedelta(hours=2))
        rows.append(row)
    db.session.execute(sa.insert(Case), rows)
    ids = db.session.execute(sa.select(Case.id, Case.received_at, Case.replied_at, Case.state)
                             .where(Case.ref_no.in_([r["ref_no"] for r in rows]))).all()
    events = []

    def event(case_id, kind, when, actor, note, from_state, to_state):
        # Every row with the same keys, so the insert goes out as one executemany.
        events.append({"case_id": case_id, "kind": kind, "at": when, "actor_name": actor, "note": note,
                       "from_state": from_state, "to_state": to_state})

    for case_id, at, replied, st in ids:
        event(case_id, EventKind.received, at, "农户", "", None, "received")
        if replied is not None:
            event(case_id, EventKind.replied, replied, "经办员", "已答复", "received", "replied")
        if st == CaseState.rejected:
            event(case_id, EventKind.rejected, at, "经办员", "重复诉求", "received", "rejected")
    db.session.execute(sa.insert(CaseEvent.__table__), events)
    db.session.flush()
    return count


def days_of(year: int, month: int, first: int, last: int, hh: int = 10) -> list[datetime]:
    return [china(year, month, d, hh) for d in range(first, last + 1)]


def workdays_in(year: int, month: int) -> list[datetime]:
    cal = WorkCalendar(COUNTY)
    d = date(year, month, 1)
    out = []
    while d.month == month:
        if cal.is_workday(d):
            out.append(china(d.year, d.month, d.day))
        d += timedelta(days=1)
    return out

"""The transition table of a case: the only code that changes `Case.state` (issue 5).

    received ──accept──▶ in_progress ──reply──▶ replied ──rate (满意…基本满意)──▶ closed
       │  ▲                 │  ▲                  │ └──7 days unrated──────────▶ closed
       │  └──transfer───────┘  └───reopen (不满意, 非常不满意)┘
       └──reply──▶ replied;  received/in_progress ──reject──▶ rejected (invalid, in no rate)
                             received/in_progress ──merge──▶ merged (a duplicate, in no rate)

Escalation (督办) is a transition that keeps the state: it is allowed only where the table
says so, and it leaves a step on the timeline like every other.

Every single-case transition is one conditional UPDATE on (id, version): if another handler
changed the case since it was read, nothing is written and the actor is told to reload.
Bulk transitions (the nightly closing of unrated cases, the escalation of overdue ones) are
UPDATE … WHERE state IN (sources of the action) … RETURNING id, so a second run in parallel
finds nothing left to change."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from subsidy.cases.models import Case, CaseEvent, CaseState, EventKind
from subsidy.common.labels import Labelled, _l
from subsidy.common.timeutil import utcnow
from subsidy.errors import InvalidTransition, StaleVersion
from subsidy.extensions import db


class Action(Labelled):
    accept = "accept", _l("开始办理")
    reply = "reply", _l("答复")
    transfer = "transfer", _l("转办")
    reject = "reject", _l("作不予受理")
    escalate = "escalate", _l("督办")
    close_rated = "close_rated", _l("评价")  # the farmer (or staff on a return call) rated it satisfied
    reopen = "reopen", _l("评价")  # rated 不满意 or 非常不满意
    close_unrated = "close_unrated", _l("归档")  # replied and unrated for 7 days
    merge = "merge", _l("合并")  # a duplicate, merged into the earlier case it repeats


S = CaseState
# (from state, action) -> (to state, event written on the timeline)
TRANSITIONS: dict[tuple[CaseState, Action], tuple[CaseState, EventKind]] = {
    (S.received, Action.accept): (S.in_progress, EventKind.accepted),
    (S.received, Action.reply): (S.replied, EventKind.replied),
    (S.in_progress, Action.reply): (S.replied, EventKind.replied),
    (S.received, Action.transfer): (S.received, EventKind.transferred),
    (S.in_progress, Action.transfer): (S.received, EventKind.transferred),
    (S.received, Action.reject): (S.rejected, EventKind.rejected),
    (S.in_progress, Action.reject): (S.rejected, EventKind.rejected),
    (S.received, Action.escalate): (S.received, EventKind.escalated),
    (S.in_progress, Action.escalate): (S.in_progress, EventKind.escalated),
    (S.replied, Action.close_rated): (S.closed, EventKind.rated),
    (S.replied, Action.reopen): (S.in_progress, EventKind.reopened),
    (S.replied, Action.close_unrated): (S.closed, EventKind.closed),
    (S.received, Action.merge): (S.merged, EventKind.merged),
    (S.in_progress, Action.merge): (S.merged, EventKind.merged),
}


def sources(action: Action) -> list[CaseState]:
    return [state for (state, act) in TRANSITIONS if act == action]


def allowed(case: Case, action: Action) -> bool:
    return (case.state, action) in TRANSITIONS


def allowed_actions(case: Case) -> set[Action]:
    return {act for (state, act) in TRANSITIONS if state == case.state}


def check(case: Case, action: Action) -> None:
    """Refuse, with the state named, an action the table does not allow from the case's state."""
    if (case.state, action) not in TRANSITIONS:
        raise InvalidTransition(f"该诉求当前为“{case.state.label}”，不能{action.label}",
                                fields={"state": case.state.value})


def apply(case: Case, action: Action, *, actor=None, actor_name: str | None = None, note: str = "",
          values: dict | None = None, from_region: str | None = None, to_region: str | None = None,
          event_kind: EventKind | None = None, now: datetime | None = None) -> CaseEvent:
    """Move one case along the table, set `values` in the same UPDATE, and write the event."""
    check(case, action)
    target, kind = TRANSITIONS[(case.state, action)]
    now = now or utcnow()
    source = case.state
    changes = dict(values or {})
    changes.update(state=target, version=Case.version + 1)
    result = db.session.execute(
        sa.update(Case).where(Case.id == case.id, Case.version == case.version).values(**changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleVersion("该诉求刚刚已被他人处理，请刷新页面后再试")
    db.session.refresh(case)
    event = CaseEvent(case_id=case.id, kind=event_kind or kind, at=now, actor_id=getattr(actor, "id", None),
                      actor_name=actor_name or getattr(actor, "name", None) or "系统", note=note or "",
                      from_state=source.value, to_state=target.value,
                      from_region_code=from_region, to_region_code=to_region)
    db.session.add(event)
    db.session.flush()
    return event


def apply_bulk(action: Action, where, values: dict, *, note: str, actor_name: str = "系统",
               now: datetime | None = None) -> list[tuple[int, str]]:
    """One UPDATE per source state of `action` over the cases matching `where`; writes one
    event per case changed. Returns [(case id, region code of the case)]."""
    now = now or utcnow()
    changed: list[tuple[int, str]] = []
    events = []
    for (source, act), (target, kind) in TRANSITIONS.items():
        if act != action:
            continue
        rows = db.session.execute(
            sa.update(Case).where(Case.state == source, *where)
            .values(state=target, version=Case.version + 1, **values)
            .returning(Case.id, Case.region_code, Case.assigned_region_code, Case.escalated_to_code)
            .execution_options(synchronize_session=False)
        ).all()
        for case_id, region_code, assigned, escalated_to in rows:
            changed.append((case_id, region_code))
            events.append({"case_id": case_id, "kind": kind, "at": now, "actor_id": None, "actor_name": actor_name,
                           "note": note, "from_state": source.value, "to_state": target.value,
                           "from_region_code": assigned if action == Action.escalate else None,
                           "to_region_code": escalated_to if action == Action.escalate else None})
    if events:
        db.session.execute(sa.insert(CaseEvent.__table__), events)
    return changed

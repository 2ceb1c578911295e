"""The state machine of a case: the only code that changes `Case.state`.

    received ──accept──▶ in_progress ──reply──▶ replied ──rate (满意…基本满意)──▶ closed
       │  ▲                 │  ▲                  │ └──7 days unrated──────────▶ closed
       │  └──transfer───────┘  └───reopen (不满意, 非常不满意)┘
       └──reply──▶ replied;  received/in_progress ──reject──▶ rejected (invalid, in no rate)
                             received/in_progress ──merge──▶ merged (a duplicate, in no rate)

`MACHINE` below is that table, row by row, on the engine every table of the platform shares
(`subsidy.common.statemachine`; docs/architecture.md "State machines"). Escalation (督办) is a
row that keeps the state: it is allowed only where the table says so, and it leaves a step on
the timeline like every other.

A row's `perm` is what a staff user needs to take it; its `guards` say, for a staff user, on
which cases (the handling unit or a unit above it handles a case; a unit does not grade its
own reply). The farmer's rating and the system's own steps (the automatic merge of a repeated
objection, the nightly closing) take the same rows without a staff user, so without them.
`extra["event"]` is the step written on the timeline.

Every single-case transition is one conditional UPDATE on (id, state, version)
(`MACHINE.claim`): if another handler changed the case since it was read, nothing is written
and the actor is told to reload. Bulk transitions (the nightly closing of unrated cases, the
escalation of overdue ones) are `MACHINE.update`: UPDATE … WHERE state = <a source of the
action> … RETURNING id, so a second run in parallel finds nothing left to change.

What the rest of the area derives from the table rather than restating: the open states (the
queue, the objections that hold a filing back), the buttons of the case page, the permission
each service function declares."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, exempt
from subsidy.cases.models import Case, CaseEvent, CaseState, EventKind
from subsidy.common.labels import Labelled, _l
from subsidy.common.statemachine import Machine, Rule
from subsidy.common.timeutil import utcnow
from subsidy.errors import PermissionDenied
from subsidy.extensions import db
from subsidy.regions.scope import covers


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


# --- guards: which cases a staff user may take a row on ---------------------------------------

@exempt("a row's guard: the region half of a check whose permission the row names")
def handling_unit(actor, case: Case) -> None:
    if not covers(actor.region_code, case.assigned_region_code):
        raise PermissionDenied("只有承办单位或其上级单位可以办理此诉求")


@exempt("a row's guard: the region half of a check whose permission the row names")
def not_own_reply(actor, case: Case) -> None:
    if actor.region_code == case.assigned_region_code:
        raise PermissionDenied("承办单位不能为自己的答复登记评价，请由上级或其他单位回访")


# --- the table ---------------------------------------------------------------------------------

S = CaseState
OPEN = (S.received, S.in_progress)


def _handle(action: Action, sources, target, event: EventKind) -> Rule:
    return Rule(action, sources, target, perm=Perm.handle_cases, guards=(handling_unit,), extra={"event": event})


def _rate(action: Action, target, event: EventKind) -> Rule:
    # Also the farmer's own rating from the mobile page, which proves the case is theirs instead.
    return Rule(action, (S.replied,), target, perm=Perm.record_cases, guards=(not_own_reply,),
                extra={"event": event, "farmer_too": True})


MACHINE = Machine("case", state=Case.state, version=Case.version, noun="该诉求", rules=[
    _handle(Action.accept, (S.received,), S.in_progress, EventKind.accepted),
    _handle(Action.reply, OPEN, S.replied, EventKind.replied),
    _handle(Action.transfer, OPEN, S.received, EventKind.transferred),
    _handle(Action.reject, OPEN, S.rejected, EventKind.rejected),
    _handle(Action.merge, OPEN, S.merged, EventKind.merged),
    # A supervisor's 督办, and the nightly one of overdue cases: the state stays.
    Rule(Action.escalate, OPEN, None, perm=Perm.escalate_cases, extra={"event": EventKind.escalated}),
    _rate(Action.close_rated, S.closed, EventKind.rated),
    _rate(Action.reopen, S.in_progress, EventKind.reopened),
    # The nightly job closes a reply left unrated for 7 days; no page or API may.
    Rule(Action.close_unrated, (S.replied,), S.closed, internal=True, extra={"event": EventKind.closed}),
])


def _ordered(states) -> tuple[CaseState, ...]:
    wanted = set(states)
    return tuple(s for s in CaseState if s in wanted)


def _reached_by(*actions: Action) -> tuple[CaseState, ...]:
    return _ordered(t for a in actions for r in MACHINE.rules_for(a) for t in r.targets)


# Open: a case still waiting for its reply (the queue, overdue, a filing's open objections).
OPEN_STATES = _ordered(MACHINE.sources(Action.reply))
# Completed: replied, then closed by a rating or by time.
COMPLETED_STATES = _reached_by(Action.reply, Action.close_rated, Action.close_unrated)
# Counted nowhere (docs/design.md "Cases"): neither received nor completed.
EXCLUDED_STATES = _reached_by(Action.reject, Action.merge)


def perm_of(*actions: Action) -> Perm:
    """The one permission the rows of `actions` name: what the service taking them declares."""
    (perm,) = {r.perm for a in actions for r in MACHINE.rules_for(a)}
    return perm


def sources(action: Action) -> list[CaseState]:
    return list(MACHINE.sources(action))


def allowed(case: Case, action: Action) -> bool:
    return MACHINE.allows(case.state, action)


def check(case: Case, action: Action) -> Rule:
    """The row for (the case's state, action), or the refusal naming the state (409)."""
    return MACHINE.check(case.state, action)


@exempt("runs the guards of the action's rows; the service calling it declares the permission")
def admit(actor, case: Case, action: Action) -> None:
    """403 unless the staff `actor` may take `action` on this case at all (the guards of its
    rows: every row of one action has the same), before its state is looked at."""
    for guard in MACHINE.rules_for(action)[0].guards:
        guard(actor, case)


def _passes(actor, case: Case, rule: Rule) -> bool:
    try:
        for guard in rule.guards:
            guard(actor, case)
    except PermissionDenied:
        return False
    return True


@exempt("a question, not an act: the rows the table lets this actor take (the page's buttons)")
def actions_for(actor, case: Case) -> set[Action]:
    """What `actor` may do with the case now: the case page's buttons."""
    return {r.action for r in MACHINE.actions_for(actor, case.state) if _passes(actor, case, r)}


def apply(case: Case, action: Action, *, actor=None, actor_name: str | None = None, note: str = "",
          values: dict | None = None, from_region: str | None = None, to_region: str | None = None,
          event_kind: EventKind | None = None, now: datetime | None = None) -> CaseEvent:
    """Move one case along the table, set `values` in the same UPDATE, and write the event.
    `actor` None: the farmer or the system (see the module docstring)."""
    rule = MACHINE.check(case.state, action)
    if actor is not None:
        MACHINE.authorize(actor, rule)
        for guard in rule.guards:
            guard(actor, case)
    now = now or utcnow()
    source = case.state
    target = rule.target_from(source)
    MACHINE.claim(case.id, rule, source=source, version=case.version, values=values,
                  stale="刚刚已被他人处理，请刷新页面后再试")
    db.session.refresh(case)
    event = CaseEvent(case_id=case.id, kind=event_kind or rule.extra["event"], at=now,
                      actor_id=getattr(actor, "id", None),
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
    for rule in MACHINE.rules_for(action):
        for source in rule.sources:
            target = rule.target_from(source)
            rows = db.session.execute(
                MACHINE.update(action, Case.state == source, *where, target=target, **values)
                .returning(Case.id, Case.region_code, Case.assigned_region_code, Case.escalated_to_code)
            ).all()
            for case_id, region_code, assigned, escalated_to in rows:
                changed.append((case_id, region_code))
                events.append({"case_id": case_id, "kind": rule.extra["event"], "at": now, "actor_id": None,
                               "actor_name": actor_name, "note": note, "from_state": source.value,
                               "to_state": target.value,
                               "from_region_code": assigned if action == Action.escalate else None,
                               "to_region_code": escalated_to if action == Action.escalate else None})
    if events:
        db.session.execute(sa.insert(CaseEvent.__table__), events)
    return changed

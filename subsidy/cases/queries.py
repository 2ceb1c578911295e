"""Which cases a staff user sees, and the queue of a handling unit (issue 5 "Staff pages").

A user sees a case when it concerns a region under theirs, or when it is handled by (or
escalated to) a unit under theirs — except a complaint about the user's own region: a
complaint accuses a village (or a township), and no one working in the accused region or
under it ever sees it, in a list, on its page or through the API (404, as if it did not exist).
"""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require
from subsidy.cases.models import OPEN_STATES, Case, CaseKind, CaseState
from subsidy.common.pagination import Page, paginate
from subsidy.common.timeutil import utcnow
from subsidy.errors import NotFound, ValidationError
from subsidy.extensions import db
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import covers, ensure_visible, normalize_code, within


def _own_prefixes(code: str) -> list[str]:
    """The actor's region and the regions above it (a complaint about any of them is hidden)."""
    return [code[:n] for n in (6, 9, 12) if n <= len(code)]


def visible_condition(actor):
    """SQL: the cases `actor` may see (see the module docstring)."""
    code = actor.region_code
    # The unit a case is escalated to is always above its handling unit, so it is covered here.
    in_scope = sa.or_(within(Case.region_code, code), within(Case.assigned_region_code, code))
    accusing_me = sa.and_(Case.kind == CaseKind.complaint, Case.region_code.in_(_own_prefixes(code)))
    return sa.and_(in_scope, sa.not_(accusing_me))


def is_visible(actor, case: Case) -> bool:
    """Python twin of `visible_condition` for one loaded case."""
    code = actor.region_code
    in_scope = covers(code, case.region_code) or covers(code, case.assigned_region_code)
    accusing_me = case.kind == CaseKind.complaint and code.startswith(case.region_code)
    return in_scope and not accusing_me


def get_case(actor, case_id: int) -> Case:
    require(actor, Perm.view_cases)
    case = db.session.get(Case, case_id)
    if case is None or not is_visible(actor, case):
        raise NotFound("诉求不存在或不在您的管辖范围内")
    return case


def _parse_enum(enum_cls, value, field: str):
    if value in (None, ""):
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise ValidationError("筛选条件不正确", fields={field: "取值不在允许范围内"}) from None


def list_statement(actor, *, scope: str = "mine", kind=None, state=None, region_code=None, overdue: bool = False):
    """Cases for the queue page and GET /cases.

    scope "mine": the unit's own queue — open cases the actor's unit handles or that were
    escalated to it; "all": every case the actor may see. `state` "open" (the default of the
    queue) or a CaseState value narrows further; `region_code` narrows to a village or
    township the cases concern; `overdue` keeps only open cases past their deadline."""
    require(actor, Perm.view_cases)
    stmt = sa.select(Case).where(visible_condition(actor))
    if scope == "mine":
        stmt = stmt.where(sa.or_(Case.assigned_region_code == actor.region_code,
                                 Case.escalated_to_code == actor.region_code))
    elif scope != "all":
        raise ValidationError("筛选条件不正确", fields={"scope": "应为 mine 或 all"})
    kind_value = _parse_enum(CaseKind, kind, "kind")
    if kind_value is not None:
        stmt = stmt.where(Case.kind == kind_value)
    if state == "open":
        stmt = stmt.where(Case.state.in_(OPEN_STATES))
    else:
        state_value = _parse_enum(CaseState, state, "state")
        if state_value is not None:
            stmt = stmt.where(Case.state == state_value)
    if region_code:
        code = normalize_code(region_code)
        ensure_visible(actor, code, "行政区划")
        stmt = stmt.where(within(Case.region_code, code))
    if overdue:
        stmt = stmt.where(Case.state.in_(OPEN_STATES), Case.due_at < utcnow())
    # Oldest deadline first; finished cases (whose deadline no longer matters) after the open ones.
    is_open = sa.case((Case.state.in_(OPEN_STATES), 0), else_=1)
    return stmt.order_by(is_open, Case.due_at, Case.id)


def list_cases(actor, *, page=1, per_page=50, **filters) -> Page:
    return paginate(list_statement(actor, **filters), page, per_page)


def open_counts(actor) -> dict[str, int]:
    """Open cases of the actor's unit (own and escalated) and how many are overdue."""
    require(actor, Perm.view_cases)
    mine = sa.and_(visible_condition(actor), Case.state.in_(OPEN_STATES),
                   sa.or_(Case.assigned_region_code == actor.region_code,
                          Case.escalated_to_code == actor.region_code))
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((Case.due_at < utcnow(), 1), else_=0)), 0))
        .where(mine)
    ).one()
    return {"open": row[0], "overdue": int(row[1])}


# ---------------------------------------------------------------- what the pages show


def county_regions(actor) -> list[Region]:
    """The county's townships and villages (and the county), for choosing what a case concerns."""
    county = actor.region_code[:6]
    return list(db.session.scalars(sa.select(Region).where(within(Region.code, county)).order_by(Region.code)))


def queue_page(actor, *, scope="mine", kind=None, state="open", region_code=None, overdue=False, page=1) -> dict:
    """The queue of the actor's unit (or everything they see), with counts, filters and the
    calendar warnings the county admin must act on."""
    from subsidy.cases.admin import calendar_warnings

    result = list_cases(actor, scope=scope, kind=kind, state=state, region_code=region_code, overdue=overdue,
                        page=page)
    villages = list(db.session.scalars(
        sa.select(Region).where(within(Region.code, actor.region_code), Region.level != Level.county)
        .order_by(Region.code)))
    return {"page": result, "counts": open_counts(actor), "warnings": calendar_warnings(actor), "villages": villages,
            "now": utcnow()}


def transfer_targets(case: Case) -> list[Region]:
    """Units a case may be transferred to (routing.check_transfer's rules, as a list)."""
    from subsidy.cases.routing import accuses

    regions = db.session.scalars(
        sa.select(Region).where(within(Region.code, case.region_code[:6])).order_by(Region.code))
    return [r for r in regions
            if r.code != case.assigned_region_code and not accuses(case.kind, case.region_code, r.code)]


def case_page(actor, case_id: int) -> dict:
    """A case with its timeline and what this actor may do with it now."""
    from subsidy.accounts.permissions import can
    from subsidy.cases.workflow import Action, allowed

    case = get_case(actor, case_id)
    handles = can(actor, Perm.handle_cases) and covers(actor.region_code, case.assigned_region_code)
    events = list(case.events)
    codes = {c for e in events for c in (e.from_region_code, e.to_region_code) if c}
    names = (dict(db.session.execute(sa.select(Region.code, Region.name).where(Region.code.in_(codes))).all())
             if codes else {})
    return {
        "case": case,
        "events": events,
        "region_names": names,
        "now": utcnow(),
        "can_accept": handles and allowed(case, Action.accept),
        "can_reply": handles and allowed(case, Action.reply),
        "can_transfer": handles and allowed(case, Action.transfer),
        "can_reject": handles and allowed(case, Action.reject),
        "can_merge": handles and allowed(case, Action.merge),
        "merged_into": db.session.get(Case, case.merged_into_id) if case.merged_into_id else None,
        "can_escalate": can(actor, Perm.escalate_cases) and allowed(case, Action.escalate),
        "can_rate": (can(actor, Perm.record_cases) and allowed(case, Action.close_rated)
                     and actor.region_code != case.assigned_region_code),
        "targets": transfer_targets(case) if handles and allowed(case, Action.transfer) else [],
    }

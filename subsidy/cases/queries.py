"""Which cases a staff user sees, and the queue of a handling unit (docs/design.md "Cases").

A user sees a case when it concerns a region under theirs, or when it is handled by (or
escalated to) a unit under theirs — except a complaint about the user's own region: a
complaint accuses a village (or a township), and no one working in the accused region or
under it ever sees it, in a list, on its page or through the API (404, as if it did not exist).
"""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.cases import workflow
from subsidy.cases.deadlines import calendar_warnings
from subsidy.cases.models import Case, CaseKind, CaseState
from subsidy.cases.routing import accuses, transfer_range
from subsidy.cases.workflow import OPEN_STATES, Action
from subsidy.common.pagination import Page, paginate
from subsidy.common.timeutil import utcnow
from subsidy.errors import NotFound, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import ancestors, county_scope, covers, ensure_visible, normalize_code, within


def _own_prefixes(code: str) -> list[str]:
    """The actor's region and the regions above it (a complaint about any of them is hidden:
    one about 640425 from every user of 640425 and under it; the city, which handles it, is
    above and sees it)."""
    return [*ancestors(code), code]


@exempt("builds the SQL of what the actor sees; its callers declare view_cases")
def visible_condition(actor):
    """SQL: the cases `actor` may see (see the module docstring)."""
    code = actor.region_code
    # The unit a case is escalated to is always above its handling unit, so it is covered here.
    in_scope = sa.or_(within(Case.region_code, code), within(Case.assigned_region_code, code))
    accusing_me = sa.and_(Case.kind == CaseKind.complaint, Case.region_code.in_(_own_prefixes(code)))
    return sa.and_(in_scope, sa.not_(accusing_me))


@exempt("a question on one loaded case; its callers declare view_cases")
def is_visible(actor, case: Case) -> bool:
    """Python twin of `visible_condition` for one loaded case."""
    code = actor.region_code
    in_scope = covers(code, case.region_code) or covers(code, case.assigned_region_code)
    accusing_me = case.kind == CaseKind.complaint and code.startswith(case.region_code)
    return in_scope and not accusing_me


@requires(Perm.view_cases)
def get_case(actor, case_id: int) -> Case:
    """The case if the actor may see it, else 404. Not `get_visible`: a case is seen through
    either of two regions (the one it concerns, its handling unit), less the complaints
    about the actor's own region."""
    try:
        case = db.session.get(Case, int(case_id))
    except (TypeError, ValueError):
        case = None
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


@requires(Perm.view_cases)
def list_statement(actor, *, scope: str = "mine", kind=None, state=None, region_code=None, overdue: bool = False):
    """Cases for the queue page and GET /cases.

    scope "mine": the unit's own queue — open cases the actor's unit handles or that were
    escalated to it; "all": every case the actor may see. `state` "open" (the default of the
    queue) or a CaseState value narrows further; `region_code` narrows to a village or
    township the cases concern; `overdue` keeps only open cases past their deadline."""
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


@requires(Perm.view_cases)
def list_cases(actor, *, page=1, per_page=50, **filters) -> Page:
    return paginate(list_statement(actor, **filters), page, per_page)


@requires(Perm.view_cases)
def open_counts(actor) -> dict[str, int]:
    """Open cases of the actor's unit (own and escalated) and how many are overdue."""
    mine = sa.and_(visible_condition(actor), Case.state.in_(OPEN_STATES),
                   sa.or_(Case.assigned_region_code == actor.region_code,
                          Case.escalated_to_code == actor.region_code))
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((Case.due_at < utcnow(), 1), else_=0)), 0))
        .where(mine)
    ).one()
    return {"open": row[0], "overdue": int(row[1])}


# ---------------------------------------------------------------- what the pages show


@requires(Perm.view_cases)
def county_regions(actor) -> list[Region]:
    """The county's townships and villages (and the county; a city user: its counties'), for
    choosing what a case concerns."""
    return list(db.session.scalars(sa.select(Region).where(within(Region.code, county_scope(actor.region_code)))
                                   .order_by(Region.code)))


@requires(Perm.view_cases)
def queue_page(actor, *, scope="mine", kind=None, state="open", region_code=None, overdue=False, page=1) -> dict:
    """The queue of the actor's unit (or everything they see), with counts, filters and the
    calendar warnings the county admin must act on."""
    result = list_cases(actor, scope=scope, kind=kind, state=state, region_code=region_code, overdue=overdue,
                        page=page)
    villages = list(db.session.scalars(
        sa.select(Region).where(within(Region.code, actor.region_code),
                                Region.level.in_((Level.township, Level.village)))
        .order_by(Region.code)))
    return {"page": result, "counts": open_counts(actor), "warnings": calendar_warnings(actor), "villages": villages,
            "now": utcnow()}


def transfer_targets(case: Case) -> list[Region]:
    """Units a case may be transferred to (routing.check_transfer's rules, as a list): the
    county's, or every county's of the city for a case the city handles."""
    regions = db.session.scalars(
        sa.select(Region).where(within(Region.code, transfer_range(case)),
                                Region.level.in_((Level.county, Level.township, Level.village)))
        .order_by(Region.code))
    return [r for r in regions
            if r.code != case.assigned_region_code and not accuses(case.kind, case.region_code, r.code)]


@requires(Perm.view_cases)
def case_page(actor, case_id: int) -> dict:
    """A case with its timeline and what this actor may do with it now (the rows of the table
    the actor may take on it: the page's buttons)."""
    case = get_case(actor, case_id)
    actions = workflow.actions_for(actor, case)
    events = list(case.events)
    codes = {c for e in events for c in (e.from_region_code, e.to_region_code) if c}
    names = (dict(db.session.execute(sa.select(Region.code, Region.name).where(Region.code.in_(codes))).all())
             if codes else {})
    return {
        "case": case,
        "events": events,
        "region_names": names,
        "now": utcnow(),
        "actions": {a.value for a in actions},
        "merged_into": db.session.get(Case, case.merged_into_id) if case.merged_into_id else None,
        "targets": transfer_targets(case) if Action.transfer in actions else [],
        "household": db.session.get(Household, case.household_id) if case.household_id else None,
        "entry": _entry_facts(case.entry_id) if case.entry_id else None,
    }


def _entry_facts(entry_id: int):
    """What a case's entry is, in words: the filing (id, project, year, village) and the
    household listed (name, ID number), to name and link it rather than show its number."""
    from subsidy.filings.models import Entry, Filing

    return db.session.execute(
        sa.select(Entry.id, Entry.filing_id, Entry.household_id, Entry.amount, Project.name.label("project"),
                  Project.year, Region.name.label("village"), Household.head_name, Household.id_number)
        .join(Filing, Filing.id == Entry.filing_id).join(Project, Project.id == Filing.project_id)
        .join(Region, Region.code == Filing.region_code).join(Household, Household.id == Entry.household_id)
        .where(Entry.id == entry_id)).first()


PICK_LIMIT = 30  # entries offered at once by the objection form's search


@requires(Perm.record_cases)
def publicized_entries(actor, *, q: str | None = None, entry_id: int | None = None) -> list:
    """Entries of the lists now in publicity (公示中) in the actor's region, for the staff form
    that records an objection: the households matching `q` (name or ID number), or the one
    entry `entry_id`. Rows: id, head_name, id_number, amount, village, project, year."""
    from subsidy.filings.models import Entry, Filing, FilingState

    q = (q or "").strip()[:40]
    if not q and not entry_id:
        return []
    stmt = (sa.select(Entry.id, Household.head_name, Household.id_number, Entry.amount,
                      Region.name.label("village"), Project.name.label("project"), Project.year)
            .join(Filing, Filing.id == Entry.filing_id).join(Project, Project.id == Filing.project_id)
            .join(Region, Region.code == Filing.region_code).join(Household, Household.id == Entry.household_id)
            .where(Filing.state == FilingState.publicizing, within(Filing.region_code, actor.region_code)))
    if entry_id:
        stmt = stmt.where(Entry.id == entry_id)
    else:
        stmt = stmt.where(sa.or_(Household.head_name.contains(q), Household.id_number.contains(q.upper())))
    return db.session.execute(stmt.order_by(Filing.region_code, Household.head_name, Entry.id).limit(PICK_LIMIT)).all()


@requires(Perm.record_cases)
def household_by_id_number(actor, id_number: str | None) -> int | None:
    """The id of the county's household with this ID number (the person who raises a case,
    named on the staff form by ID number, never by an internal number); None when empty.
    A number no household of the county has is a field error."""
    text = (id_number or "").strip().upper()
    if not text:
        return None
    found = db.session.execute(sa.select(Household.id, Household.region_code).where(
        Household.id_number == text, within(Household.region_code, county_scope(actor.region_code)))).first()
    if found is None:
        message = "本县农户名册中没有这个身份证号"
        raise ValidationError(message, fields={"household_id_number": message})
    if not covers(actor.region_code, found.region_code):
        # A number another village holds: the form must not become a way round the register's
        # limit on such answers, so it is audited and counted the same way.
        from subsidy.households.service import note_elsewhere_hits

        note_elsewhere_hits(actor, [text], source="case")
    return found.id

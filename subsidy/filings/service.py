"""Filings: start one, read them (lists, the 待我审核 queue, the detail), reviewers' notes.

The list itself is edited in `entries`, and states change only in `workflow`."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.accounts.permissions import Perm, can, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.database import add_unique
from subsidy.common.money import quantize
from subsidy.common.pagination import Page, clamp
from subsidy.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings import snapshots, workflow
from subsidy.filings.holds import HOLDABLE, open_holds
from subsidy.filings.models import Action, Entry, EntryFlag, EntryNote, Filing, FilingState, Review
from subsidy.households.models import Household
from subsidy.projects import amounts
from subsidy.projects.models import Project
from subsidy.projects.service import get_project
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import covers, ensure_visible, get_visible, normalize_code, within
from subsidy.regions.service import county_only_code

S = FilingState


@requires(Perm.edit_filings)
def start_filing(actor, project_id: int, region_code: str | None = None) -> Filing:
    """A new draft filing of `project_id` for the clerk's village (one per project and village)."""
    code = normalize_code(region_code) if region_code else actor.region_code
    ensure_visible(actor, code, "村")
    if code != actor.region_code:
        raise PermissionDenied("只能为本村发起备案")
    try:
        project = get_project(actor, int(project_id))
    except (TypeError, ValueError):
        raise ValidationError("请选择项目", fields={"project_id": "请选择项目"}) from None
    existing = db.session.scalar(
        sa.select(Filing.id).where(Filing.project_id == project.id, Filing.region_code == code))
    if existing:
        raise Conflict("本村该项目已有备案，不能重复发起", fields={"project_id": f"已有备案（编号 {existing}）"},
                       code="duplicate")
    filing = Filing(project_id=project.id, region_code=code, created_by=actor.id, list_changed=True)
    add_unique(filing, Conflict("本村该项目已有备案，不能重复发起", code="duplicate"))
    audit.record(actor, "filing.create", "filing", filing.id, region_code=code, project_id=project.id)
    return filing


@requires(Perm.view_filings)
def get_filing(actor, filing_id: int) -> Filing:
    return get_visible(actor, Filing, filing_id, "备案")


# --- lists and the queue: one aggregated query each ---------------------------------------

@dataclass
class FilingRow:
    id: int
    project_id: int
    region_code: str
    state: FilingState
    version: int
    state_changed_at: object
    village_name: str
    township_name: str
    project_name: str
    project_year: int
    households: int
    total_amount: Decimal
    flags: int
    flagged_entries: int
    returned: bool = False  # sent back by a reviewer and not acted on since (退回)
    open_objections: int = 0  # objections (异议) on its entries not yet answered

    @property
    def state_label(self) -> str:
        return self.state.label


def returned_condition():
    """The filing's latest transition is a return that left it where it is now: sent back (退回)
    and not acted on since (docs/design.md "Three-level filing and review")."""
    last = aliased(Review)
    latest = (sa.select(last.id).where(last.filing_id == Filing.id).order_by(last.id.desc()).limit(1)
              .correlate(Filing).scalar_subquery())
    return sa.exists(sa.select(Review.id).where(Review.id == latest, Review.action == Action.return_,
                                                Review.to_state == Filing.state).correlate(Filing))


def _open_objections():
    """The filing's open objections (cases of kind objection on its entries; the cases area
    says which states are open)."""
    from subsidy.cases.models import Case, CaseKind
    from subsidy.cases.workflow import OPEN_STATES

    return (sa.select(sa.func.count()).select_from(Case).join(Entry, Entry.id == Case.entry_id)
            .where(Entry.filing_id == Filing.id, Case.kind == CaseKind.objection, Case.state.in_(OPEN_STATES))
            .correlate(Filing).scalar_subquery())


def _rows_select(where: list):
    """Filings matching `where` with village, township, project, household count, total and
    risk flags. The aggregates are correlated subqueries: each reads one filing's rows through
    the `filing_id` index, for the selected filings only (a joined GROUP BY subquery was
    estimated at one row by PostgreSQL and re-sorted for every filing of the page)."""
    def per_filing(model, expr):
        return sa.select(expr).where(model.filing_id == Filing.id).correlate(Filing).scalar_subquery()

    township = aliased(Region)
    return (sa.select(Filing.id, Filing.project_id, Filing.region_code, Filing.state, Filing.version,
                      Filing.state_changed_at, Region.name, township.name, Project.name, Project.year,
                      per_filing(Entry, sa.func.count()),
                      per_filing(Entry, sa.func.coalesce(sa.func.sum(Entry.amount), 0)),
                      per_filing(EntryFlag, sa.func.count()),
                      per_filing(EntryFlag, sa.func.count(sa.distinct(EntryFlag.entry_id))),
                      returned_condition(), _open_objections())
            .join(Region, Region.code == Filing.region_code)
            .join(township, township.code == Region.parent_code)
            .join(Project, Project.id == Filing.project_id)
            .where(*where))


def _as_rows(result) -> list[FilingRow]:
    rows = []
    for r in result:
        rows.append(FilingRow(*r[:11], quantize(Decimal(r[11])), int(r[12]), int(r[13]), bool(r[14]), int(r[15])))
    return rows


def _conditions(actor, *, state=None, project_id=None, region_code=None) -> list:
    where = [within(Filing.region_code, actor.region_code)]
    if region_code:
        code = normalize_code(region_code)
        ensure_visible(actor, code, "行政区划")
        where.append(within(Filing.region_code, code))
    if state:
        try:
            where.append(Filing.state == FilingState(state))
        except ValueError:
            raise ValidationError("状态不正确", fields={"state": "取值不在允许范围内"}) from None
    if project_id:
        where.append(Filing.project_id == int(project_id))
    return where


def _paged_rows(where: list, order: tuple, page, per_page) -> Page:
    """One page of filing rows: the count, then the rows of the page's filings alone (their
    aggregates are computed for those filings only, not for every filing matching `where`)."""
    page, per_page = clamp(page, per_page)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(*where))
    ids = sa.select(Filing.id).where(*where).order_by(*order).limit(per_page).offset((page - 1) * per_page)
    stmt = _rows_select([*where, Filing.id.in_(ids.scalar_subquery())]).order_by(*order)
    return Page(_as_rows(db.session.execute(stmt)), page, per_page, total)


@requires(Perm.view_filings)
def list_filings(actor, *, state=None, project_id=None, region_code=None, page=1, per_page=50) -> Page:
    where = _conditions(actor, state=state, project_id=project_id, region_code=region_code)
    return _paged_rows(where, (Filing.state_changed_at.desc(), Filing.id.desc()), page, per_page)


def _queue_conditions(actor) -> list | None:
    """What 待我审核 selects for `actor`: filings in their region waiting for their tier (None:
    no tier reviews there)."""
    states = workflow.waiting_states(actor)
    if not states:
        return None
    return [within(Filing.region_code, actor.region_code), Filing.state.in_(states)]


@requires(Perm.review_filings)
def review_queue(actor, *, page=1, per_page=50) -> Page:
    """待我审核: filings waiting for the actor's tier in the actor's region, oldest first, a page
    at a time (after a deadline a county has hundreds waiting)."""
    where = _queue_conditions(actor)
    if where is None:
        return Page([], 1, per_page, 0)
    return _paged_rows(where, (Filing.state_changed_at, Filing.id), page, per_page)


@requires(Perm.review_filings)
def queue_size(actor) -> int:
    """How many filings wait for the actor's tier (the count on the 备案审核 page's button)."""
    where = _queue_conditions(actor)
    return 0 if where is None else db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(*where))


@requires(Perm.view_filings)
def returned_filings(actor, *, limit: int = 50) -> list[FilingRow]:
    """Filings sent back (退回) to a state in which the actor has the next move, in the actor's
    region, longest waiting first: for a village clerk, the drafts a reviewer returned (the home
    page's "被退回的备案"). Each row's `returned` is True; `last_return(filing)` tells why."""
    states = {s for s in FilingState if workflow.MACHINE.actions_for(actor, s)}
    if not states:
        return []
    where = [within(Filing.region_code, actor.region_code), Filing.state.in_(states), returned_condition()]
    stmt = _rows_select(where).order_by(Filing.state_changed_at, Filing.id).limit(limit)
    return _as_rows(db.session.execute(stmt))


def correction_of(filing: Filing) -> dict | None:
    """A correction (更正) in progress: why and by whom it was reopened, and its differences from
    the list the county approved, line by line, for every tier to review."""
    diff = snapshots.correction_diff(filing)
    if diff is None:
        return None
    review = db.session.scalar(sa.select(Review).where(Review.filing_id == filing.id, Review.action == Action.reopen)
                               .order_by(Review.id.desc()).limit(1))
    return {"diff": diff, "reason": review.comment if review else "", "by": review.actor_name if review else "",
            "at": review.at if review else None}


def last_return(filing: Filing) -> dict | None:
    """The return (退回) that put the filing where it is, if it has not moved since: reason,
    who (name, tier and their unit) and when, for the banner at the top of its page."""
    review = db.session.scalar(sa.select(Review).where(Review.filing_id == filing.id)
                               .order_by(Review.id.desc()).limit(1))
    if review is None or review.action != Action.return_ or review.to_state != filing.state:
        return None
    unit = None
    if review.actor_id is not None:
        from subsidy.accounts.models import User

        unit = db.session.scalar(sa.select(Region.name).join(User, User.region_code == Region.code)
                                 .where(User.id == review.actor_id))
    return {"review": review, "reason": review.comment, "by": review.actor_name, "tier": review.tier,
            "unit": unit, "at": review.at}


@exempt("an empty list for those who may not file: the filings page asks it of every role")
def projects_to_start(actor) -> list[Project]:
    """The county's projects this clerk's village has no filing for yet."""
    if not can(actor, Perm.edit_filings):
        return []
    has = sa.exists(
        sa.select(Filing.id).where(Filing.project_id == Project.id, Filing.region_code == actor.region_code))
    return list(db.session.scalars(sa.select(Project).where(Project.county_code == county_only_code(actor), ~has)
                                   .order_by(Project.year.desc(), Project.id)))


# --- one filing ---------------------------------------------------------------------------

def totals(filing: Filing) -> dict:
    row = db.session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Entry.amount), 0),
                                       sa.func.coalesce(sa.func.sum(Entry.quantity), 0))
                             .where(Entry.filing_id == filing.id)).one()
    flagged = db.session.scalar(sa.select(sa.func.count(sa.distinct(EntryFlag.entry_id)))
                                .where(EntryFlag.filing_id == filing.id))
    return {"households": row[0], "amount": quantize(Decimal(row[1])), "quantity": quantize(Decimal(row[2])),
            "flagged": flagged}


def budget(filing: Filing, this: Decimal | None = None) -> dict:
    """The project's budget against what the county approved; `this`: the filing's total, when
    the caller has it."""
    project = filing.project
    approved = workflow.approved_total(project.id, except_filing=filing.id)
    this = workflow.filing_total(filing.id) if this is None else this
    return {"budget": project.budget, "approved": approved, "this": this, "left": project.budget - approved,
            "left_after": project.budget - approved - this}


ENTRIES_PER_PAGE = 50  # the review page's rows: a reviewer reads them one by one, also on a phone


def _paid_entries(filing: Filing) -> set[int]:
    """Entries of the filing the bank paid (a recovery can be recorded for them)."""
    if filing.state not in HOLDABLE:
        return set()
    from subsidy.payments.models import Payment, PaymentStatus

    return set(db.session.scalars(sa.select(Payment.entry_id).where(Payment.filing_id == filing.id,
                                                                    Payment.status == PaymentStatus.paid)))


def entry_lines(filing: Filing, *, entry_ids=None, flagged_only=False, q=None, page=None, per_page=ENTRIES_PER_PAGE,
                total: int | None = None):
    """Entries with their household, flags and notes: three queries whatever the count, plain
    rows rather than ORM objects (a list may hold thousands). Returns (lines, total); without
    `page` every entry is returned. `total`: the number of entries matching, when the caller
    already knows it (the filing's own count, unfiltered)."""
    chosen = sa.select(Entry.id).where(Entry.filing_id == filing.id)
    if entry_ids is not None:
        chosen = chosen.where(Entry.id.in_(list(entry_ids)))
    if flagged_only:
        chosen = chosen.where(sa.exists(sa.select(EntryFlag.id).where(EntryFlag.entry_id == Entry.id)))
    if q:
        chosen = chosen.join(Household, Household.id == Entry.household_id).where(
            sa.or_(Household.head_name.contains(q), Household.id_number.contains(q.upper())))
    if page is not None:
        page, per_page = clamp(page, per_page, default=ENTRIES_PER_PAGE)
        if total is None:
            total = db.session.scalar(sa.select(sa.func.count()).select_from(chosen.subquery()))
        # The page's entry ids first, then their households: joining every entry of a
        # 5,000-entry list to its household to keep a page of them cost 100 look-ups per row kept.
        chosen = chosen.order_by(Entry.id).limit(per_page).offset((page - 1) * per_page)
    stmt = (sa.select(Entry.id, Entry.household_id, Entry.quantity, Entry.amount, Household.head_name,
                      Household.id_number, Household.phone, Household.payout_account)
            .join(Household, Household.id == Entry.household_id)
            .where(Entry.id.in_(chosen.scalar_subquery())))
    rows = db.session.execute(stmt.order_by(Entry.id)).all()
    ids = [r.id for r in rows]
    flags, notes = defaultdict(list), defaultdict(list)
    if ids:
        # The whole list: by filing (index); a page or a selection: by its entry ids.
        limited = page is not None or entry_ids is not None or flagged_only or bool(q)
        flag_stmt = sa.select(EntryFlag).where(EntryFlag.filing_id == filing.id)
        note_stmt = sa.select(EntryNote).where(EntryNote.filing_id == filing.id)
        if limited:
            flag_stmt = flag_stmt.where(EntryFlag.entry_id.in_(ids))
            note_stmt = note_stmt.where(EntryNote.entry_id.in_(ids))
        for f in db.session.scalars(flag_stmt.order_by(EntryFlag.id)):
            flags[f.entry_id].append(f)
        for n in db.session.scalars(note_stmt.order_by(EntryNote.id)):
            notes[n.entry_id].append(n)
    holds = open_holds(filing.id) if ids else {}
    paid = _paid_entries(filing) if ids else set()
    lines = [{"entry": SimpleNamespace(id=r.id, household_id=r.household_id, quantity=r.quantity, amount=r.amount),
              "household": SimpleNamespace(id=r.household_id, head_name=r.head_name, id_number=r.id_number,
                                           phone=r.phone, payout_account=r.payout_account),
              "flags": flags[r.id], "notes": notes[r.id], "standard": amounts.entry_amount(filing.project, r.quantity),
              "hold": holds.get(r.id), "paid": r.id in paid}
             for r in rows]
    return lines, (len(lines) if page is None else total)


def reviews(filing: Filing) -> list[Review]:
    return list(db.session.scalars(sa.select(Review).where(Review.filing_id == filing.id).order_by(Review.id)))


@requires(Perm.view_filings)
def detail(actor, filing_id: int) -> dict:
    """Everything GET /filings/{id} answers (docs/api.md), with the snapshot mismatches."""
    filing = get_filing(actor, filing_id)
    lines, _ = entry_lines(filing)
    return {
        "filing": filing, "lines": lines, "reviews": reviews(filing), "snapshots": snapshots.all_snapshots(filing.id),
        "mismatches": snapshots.find_mismatches(filing), "totals": totals(filing),
    }


@requires(Perm.view_filings)
def review_page(actor, filing_id: int, *, page=1, flagged_only=False, q=None, hq=None) -> dict:
    """What the filing / review page shows; the entries are paged, the rest is whole. `hq`
    searches the village register for households to add (the clerk, while a draft)."""
    from subsidy.filings.entries import can_edit, search_candidates
    from subsidy.filings.objections import objections_on

    filing = get_filing(actor, filing_id)
    # Always one page: a 5,000-entry list rendered whole is a 5 MB page.
    filing_totals = totals(filing)
    lines, total = entry_lines(filing, page=page or 1, flagged_only=flagged_only, q=q,
                               total=None if flagged_only or q else filing_totals["households"])
    snaps = snapshots.round_snapshots(filing)
    live = snapshots.cached_live_digest(filing.id)
    page_no, per_page = clamp(page, ENTRIES_PER_PAGE, default=ENTRIES_PER_PAGE)
    editable = can_edit(actor, filing)
    return {
        "filing": filing, "lines": lines, "page": Page(lines, page_no, per_page, total),
        "returned": last_return(filing), "objections": objections_on(actor, filing),
        "correction": correction_of(filing),
        "totals": filing_totals, "reviews": reviews(filing), "snapshots": {s.value: x for s, x in snaps.items()},
        "mismatches": snapshots.find_mismatches(filing, snaps, live),
        "side_by_side": snapshots.side_by_side(filing, snaps, live) if snaps else None,
        "actions": workflow.available_actions(actor, filing),
        "budget": budget(filing, filing_totals["amount"]) if actor.tier == Level.county else None,
        "can_edit": editable, "can_note": can_note(actor, filing),
        "can_hold": (can(actor, Perm.hold_entries) and actor.tier == Level.county and filing.state in HOLDABLE),
        "candidates": search_candidates(actor, filing, hq) if editable and hq else [],
    }


# --- reviewers' notes ---------------------------------------------------------------------

@exempt("a predicate for the page's buttons: it answers, it changes and returns nothing private")
def can_note(actor, filing: Filing) -> bool:
    return filing.state in workflow.note_states(actor) and covers(actor.region_code, filing.region_code)


@requires(Perm.review_filings)
def add_note(actor, filing_id: int, entry_id: int, note: str) -> EntryNote:
    """A reviewer's note on an entry (it answers the entry's risk flags; docs/design.md)."""
    filing = get_filing(actor, filing_id)
    text = (note or "").strip()
    if not text:
        raise ValidationError("请填写审核意见", fields={"note": "不能为空"})
    if len(text) > 1000:
        raise ValidationError("审核意见太长", fields={"note": "不超过 1000 字"})
    if not can_note(actor, filing):
        raise InvalidTransition("备案当前不在您的审核环节，不能填写审核意见")
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.filing_id != filing.id:
        raise NotFound("名单中没有这一户")
    row = EntryNote(filing_id=filing.id, entry_id=entry.id, round=filing.round, tier=actor.tier, author_id=actor.id,
                    author_name=actor.name or actor.username, note=text)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "filing.note", "filing", filing.id, region_code=filing.region_code, entry_id=entry.id,
                 household_id=entry.household_id, note=text)
    return row

"""迁户's record (docs/design.md "Household register"): where a household has been, who may read
its file because of it, and what a move across counties may not leave behind.

A transfer moves the household row only; its entries, payments, cases and recoveries keep the
village (and county) they were made in. `household_moves` says where it has been, so that:
- a county it left (or passed through) still opens its file (`reads_history`): its county
  staff and supervisors, not the village or township it left, whose work with the household
  ended with the move (the file holds the new address and phone);
- edits stay with the current village and county alone (`households.service.household_for_edit`).
"""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.models import Role, User
from subsidy.accounts.permissions import exempt
from subsidy.audit import service as audit
from subsidy.errors import Conflict
from subsidy.extensions import db
from subsidy.households.models import Household, HouseholdMove
from subsidy.projects.models import Project
from subsidy.regions.models import CODE_LENGTH, Level, Region
from subsidy.regions.scope import ancestors, within

COUNTY_WIDTH = CODE_LENGTH[Level.county]

# The roles that read, in a file opened through its history, the household's cases outside their
# own range too (those raised in the county it moved to): the supervisors, whose work is the
# money's whole trail (docs/design.md "Household register"); reviewers and admins read the cases
# of their own range only, as everywhere.
CASE_TRAIL_ROLES = frozenset({Role.supervisor, Role.city_supervisor})


@exempt("a question on the actor's tier, asked by readers that declare their own permission")
def history_tier(actor) -> bool:
    """Whether the actor's tier reads households through their moves: the county or above."""
    return len(actor.region_code) <= COUNTY_WIDTH


@exempt("a question asked by get_household, which declares view_register")
def reads_history(actor, household_id: int) -> bool:
    """The household once lived (or passed through) under a county-or-above actor's region."""
    if not history_tier(actor):
        return False
    code = actor.region_code
    return db.session.scalar(sa.select(sa.exists().where(
        HouseholdMove.household_id == household_id,
        sa.or_(within(HouseholdMove.from_region, code), within(HouseholdMove.to_region, code))))) is True


def moves_of(household_id: int) -> list[dict]:
    """The household's moves, oldest first: when, from which village to which (named with their
    township and county, so a reader of either county knows where), by whom, why."""
    rows = db.session.execute(
        sa.select(HouseholdMove.id, HouseholdMove.moved_at, HouseholdMove.from_region, HouseholdMove.to_region,
                  HouseholdMove.reason, User.name.label("moved_by"))
        .outerjoin(User, User.id == HouseholdMove.moved_by)
        .where(HouseholdMove.household_id == household_id)
        .order_by(HouseholdMove.moved_at, HouseholdMove.id)).all()

    def chain(code):  # the county, the township, the village
        return [*(a for a in ancestors(code) if len(a) >= COUNTY_WIDTH), code]

    codes = {c for r in rows for code in (r.from_region, r.to_region) for c in chain(code)}
    names = dict(db.session.execute(sa.select(Region.code, Region.name).where(Region.code.in_(codes))).all())

    def path(code):
        return " ".join(names[c] for c in chain(code) if c in names)

    return [{**r._asdict(), "from_path": path(r.from_region), "to_path": path(r.to_region)} for r in rows]


def refuse_left_behind(household: Household) -> None:
    """A move across counties leaves the old county's payments and recoveries with it (their
    county_code); it is refused while something there is still being decided about the
    household: an entry held (止付) or a recovery open. The old county ends those first."""
    from subsidy.filings.models import Entry, EntryHold, Filing, HoldStatus
    from subsidy.recoveries.models import Recovery, RecoveryState

    held = db.session.execute(
        sa.select(Project.name, Filing.id).select_from(EntryHold)
        .join(Entry, Entry.id == EntryHold.entry_id).join(Filing, Filing.id == Entry.filing_id)
        .join(Project, Project.id == Filing.project_id)
        .where(Entry.household_id == household.id, EntryHold.status == HoldStatus.held).limit(1)).first()
    if held is not None:
        raise Conflict(f"该户在“{held.name}”（备案编号 {held.id}）中的补贴正在止付核查，"
                       "须由原县核查并解除止付后再跨县迁户", code="held_entry")
    recovery = db.session.scalar(sa.select(Recovery.id).where(
        Recovery.household_id == household.id, Recovery.state == RecoveryState.open).limit(1))
    if recovery is not None:
        raise Conflict(f"该户有待追回的资金（追回编号 {recovery}），须由原县追回或核销后再跨县迁户",
                       code="open_recovery")


@exempt("writes the record of a transfer that transfer_household has checked")
def record_move(actor, household: Household, source: str, target: str, reason: str) -> HouseholdMove:
    """The move's row and its two audit events: `household.transfer` in the new village (its
    county's log shows who came) and `household.transfer_out` in the old one (its county's log
    shows who left, and to where)."""
    move = HouseholdMove(household_id=household.id, from_region=source, to_region=target,
                         moved_by=getattr(actor, "id", None), reason=reason)
    db.session.add(move)
    db.session.flush()
    detail = {"source": source, "target": target, "reason": reason, "move": move.id}
    audit.record(actor, "household.transfer", "household", household.id, region_code=target, **detail)
    audit.record(actor, "household.transfer_out", "household", household.id, region_code=source, **detail)
    return move

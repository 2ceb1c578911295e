"""止付: an entry kept from payment while a problem is checked (docs/design.md "Supervision with
consequences").

A county reviewer or a supervisor holds an entry with a reason (an INSERT: one open hold per
entry, the partial unique index `uq_entry_holds_open` keeps it so whatever runs at once) and
releases it with a reason (the one transition of HOLDS). While an entry is held:
- no new batch and no re-issue takes it (subsidy.payments.service asks `open_hold`);
- its pending payment in a batch not yet exported is cancelled at once; one already exported
  stays, and the bank's result for it is not applied while the hold lasts (payments.results);
- the farmer reads "暂停发放，正在核查" and never the reason, which may name an informant.
The household is told by SMS at the hold and at the release.
"""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.labels import Labelled, _l
from subsidy.common.statemachine import Machine, Rule
from subsidy.common.text import single_line
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryHold, Filing, FilingState, HoldStatus
from subsidy.households.models import Household
from subsidy.regions.models import Level
from subsidy.regions.scope import get_visible


class HoldAction(Labelled):
    release = "release", _l("解除止付")


HOLDS = Machine("entry_hold", state=EntryHold.status, noun="止付", rules=[
    Rule(HoldAction.release, (HoldStatus.held,), HoldStatus.released, perm=Perm.hold_entries, tier=Level.county),
])

# A hold after the county's approval is what it is for; before it, the reviewers return or
# note the entry instead.
HOLDABLE = (FilingState.county_approved, FilingState.paid)
MAX_REASON = 500


def open_hold():
    """SQL: the entry (`Entry.id` of the enclosing query) has an open hold."""
    return sa.exists(sa.select(EntryHold.id).where(EntryHold.entry_id == Entry.id,
                                                   EntryHold.status == HoldStatus.held))


def open_holds(filing_id: int) -> dict[int, EntryHold]:
    """{entry id: its open hold} of one filing."""
    return {h.entry_id: h for h in db.session.scalars(
        sa.select(EntryHold).where(EntryHold.filing_id == filing_id, EntryHold.status == HoldStatus.held))}


def held_entries(entry_ids) -> set[int]:
    ids = list(entry_ids)
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(EntryHold.entry_id).where(
        EntryHold.entry_id.in_(ids), EntryHold.status == HoldStatus.held)))


def _entry(actor, filing_id: int, entry_id: int) -> tuple[Filing, Entry]:
    if actor.tier != Level.county:
        raise PermissionDenied("止付须由县级审核员或监督员操作")
    filing = get_visible(actor, Filing, filing_id, "备案")
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.filing_id != filing.id:
        raise NotFound("名单中没有这一户")
    return filing, entry


def _reason(text, field: str = "reason") -> str:
    try:
        return single_line(text, label="原因", limit=MAX_REASON, required=True)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={field: str(exc)}) from None


@requires(Perm.hold_entries)
def hold_entry(actor, filing_id: int, entry_id: int, reason: str) -> EntryHold:
    """Hold one entry; cancel its pending payment if the bank has not had the file yet."""
    from subsidy.payments import results
    from subsidy.payments import service as payments

    filing, entry = _entry(actor, filing_id, entry_id)
    text = _reason(reason)
    if filing.state not in HOLDABLE:
        raise Conflict(f"备案{filing.state.label}，县级审定后才能止付；审定前请退回或填写审核意见",
                       code="invalid_transition")
    if payments.entry_paid(entry.id):
        raise Conflict("该户已发放成功，不能止付；如属多发或错发，请登记追回", code="invalid_transition")
    if held_entries([entry.id]):
        raise Conflict("该户已止付", code="invalid_transition")
    now = utcnow()
    hold = EntryHold(entry_id=entry.id, filing_id=filing.id, region_code=filing.region_code, reason=text,
                     held_at=now, held_by=actor.id)
    db.session.add(hold)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("该户刚被他人止付", code="invalid_transition") from None
    cancelled, exported = payments.stop_pending(actor, entry.id, now)
    hold.cancelled_payment_id = cancelled
    db.session.flush()
    if cancelled is not None:  # the last entry waiting may have been this one
        results.settle(actor, [filing.id])
    _notify(filing, entry, "entry_held", f"entry_held:{hold.id}", unit=actor.region.name if actor.region else "")
    audit.record(actor, "filing.entry_hold", "filing", filing.id, region_code=filing.region_code, entry_id=entry.id,
                 household_id=entry.household_id, hold_id=hold.id, reason=text, cancelled_payment_id=cancelled,
                 exported_payment_id=exported)
    return hold


@requires(Perm.hold_entries)
def release_entry(actor, filing_id: int, entry_id: int, reason: str) -> EntryHold:
    """Release the entry's open hold (the one row of HOLDS)."""
    filing, entry = _entry(actor, filing_id, entry_id)
    text = _reason(reason)
    hold = open_holds(filing.id).get(entry.id)
    if hold is None:
        raise Conflict("该户没有止付，无需解除", code="invalid_transition")
    if filing.state != FilingState.county_approved:
        # A held entry with nothing paid counted as settled when the filing reached 已发放.
        raise Conflict(f"备案{filing.state.label}，不能解除止付；该户如需补发，请在更正（补报）中办理",
                       code="invalid_transition")
    rule = HOLDS.check(hold.status, HoldAction.release)
    HOLDS.authorize(actor, rule, who="县级审核员或监督员")
    now = utcnow()
    HOLDS.claim(hold.id, rule, source=hold.status,
                values={"release_reason": text, "released_at": now, "released_by": actor.id},
                stale="刚刚已被他人解除，请刷新页面")
    db.session.refresh(hold)
    _notify(filing, entry, "entry_released", f"entry_released:{hold.id}")
    audit.record(actor, "filing.entry_release", "filing", filing.id, region_code=filing.region_code,
                 entry_id=entry.id, household_id=entry.household_id, hold_id=hold.id, reason=text)
    return hold


def _notify(filing: Filing, entry: Entry, template: str, key: str, **context) -> None:
    from subsidy.notify.outbox import enqueue

    household = db.session.get(Household, entry.household_id)
    enqueue(template, key=key, phone=household.phone, region_code=filing.region_code,
            context={"name": household.head_name, "project": filing.project.name, **context},
            household_id=household.id, entry_id=entry.id)

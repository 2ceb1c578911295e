"""The demo's 迁户 across counties (docs/design.md "Household register"): the city admin moves one
of 彭阳县's paid households to 原州区, where its new county takes a question from it. Both
counties' supervisors then read its file: 彭阳县's entries and payments, 原州区's case."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.extensions import db
from subsidy.households.models import Household, HouseholdMove

FROM_COUNTY = "640425"
TO_VILLAGE = "640402100201"  # 原州区 三营镇's first village
REASON = "全家迁居原州区三营镇（户籍已迁入）"


def _candidate() -> int | None:
    """A 彭阳县 household paid this year that nothing in its county holds back: no filing
    still under review lists it, no entry held, no recovery open (as a move across counties
    requires)."""
    from subsidy.filings.models import Entry, EntryHold, Filing, FilingState, HoldStatus
    from subsidy.payments.models import Payment, PaymentStatus
    from subsidy.recoveries.models import Recovery, RecoveryState
    from subsidy.regions.scope import within

    open_states = [FilingState.draft, FilingState.publicizing, FilingState.village_filed,
                   FilingState.township_approved]
    listed = sa.select(Entry.household_id).join(Filing, Filing.id == Entry.filing_id).where(
        Filing.state.in_(open_states))
    held = sa.select(Entry.household_id).join(EntryHold, EntryHold.entry_id == Entry.id).where(
        EntryHold.status == HoldStatus.held)
    owing = sa.select(Recovery.household_id).where(Recovery.state == RecoveryState.open)
    return db.session.scalar(
        sa.select(Household.id).join(Payment, Payment.household_id == Household.id)
        .where(within(Household.region_code, FROM_COUNTY), Payment.status == PaymentStatus.paid,
               Household.id.not_in(listed), Household.id.not_in(held), Household.id.not_in(owing))
        .order_by(Household.id).limit(1))


def move_household() -> dict[str, int]:
    """Once: nothing is done when a household has moved already, or without the story's
    payments or the city's users."""
    from subsidy.cases import service as cases
    from subsidy.cases.models import CaseKind, Channel
    from subsidy.households import service as households

    if db.session.scalar(sa.select(sa.func.count()).select_from(HouseholdMove)):
        return {"households moved": 0}
    users = {u.username: u for u in db.session.scalars(
        sa.select(User).where(User.username.in_(["cityadmin", "admin640402"])))}
    household_id = _candidate()
    if household_id is None or len(users) < 2:
        return {"households moved": 0}
    moved = households.transfer_household(users["cityadmin"], household_id, TO_VILLAGE, REASON)
    cases.record_case(users["admin640402"], kind=CaseKind.inquiry.value, channel=Channel.visit.value,
                      subject="迁入前的补贴是否还能领取",
                      body="今年在彭阳县的耕地地力保护补贴已发到一卡通，迁来后明年在哪里申报？",
                      contact_name=moved.head_name, contact_phone=moved.phone or "13909540002",
                      region_code=TO_VILLAGE, household_id=moved.id)
    db.session.flush()
    return {"households moved": 1}

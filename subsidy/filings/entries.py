"""The village clerk's household list (docs/design.md: "edited only by the village while the filing
is a draft"): add by search, add the whole village at once, change, delete.

Quantity and amount start from the amount rule (`subsidy.projects.amounts`): the register's
quantity and rate × quantity. The clerk may change either; an amount above the standard is
flagged (risk.py), never silently accepted."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from subsidy.accounts.permissions import Perm, can, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.database import add_unique, lock_rows
from subsidy.common.model_base import UTCDateTime
from subsidy.common.money import MONEY_MAX, parse_amount
from subsidy.common.params import form_id
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings import risk
from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState
from subsidy.households.models import Household
from subsidy.projects import amounts
from subsidy.projects.models import Project
from subsidy.regions.models import Region
from subsidy.regions.scope import get_visible

MAX_QUANTITY = Decimal("100000")


# The list is edited only while the filing is a draft (docs/design.md), by its village's clerk.
EDITABLE_STATES = frozenset({FilingState.draft})


@exempt("a predicate for the page's buttons: it answers, it changes and returns nothing private")
def can_edit(actor, filing: Filing) -> bool:
    return (can(actor, Perm.edit_filings) and actor.region_code == filing.region_code
            and filing.state in EDITABLE_STATES)


@requires(Perm.edit_filings)
def editable_filing(actor, filing_id: int) -> Filing:
    """The filing, if `actor` is its village's clerk and it is a draft."""
    filing = get_visible(actor, Filing, filing_id, "备案")
    if actor.region_code != filing.region_code:
        raise PermissionDenied("只有本村的村级经办员可以修改名单")
    if filing.state not in EDITABLE_STATES:
        raise InvalidTransition("只有草稿状态的备案可以修改名单；公示中的名单请先撤回公示")
    return filing


def _mark_changed(filing: Filing) -> None:
    """Lock the filing row and re-check that it is still a draft, in one conditional UPDATE:
    a list edit and a 公示 of the same filing can never interleave."""
    result = db.session.execute(sa.update(Filing).where(Filing.id == filing.id, Filing.state == FilingState.draft)
                                .values(list_changed=True).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise InvalidTransition("备案已不是草稿（可能刚被公示），名单不能再修改；请刷新页面")
    set_committed_value(filing, "list_changed", True)


def _hold_households(*where) -> None:
    """Hold the households about to be listed against a change until this transaction ends
    (PostgreSQL FOR SHARE; SQLite's writer holds the database already). An ID number or payout
    account changed meanwhile would not see the uncommitted entry, so would leave the filing's
    list stamp as it was (migration 0009) and a digest cached under it stale. Taken before the
    filing is marked: both writers then lock households before stamps, never the reverse."""
    db.session.execute(lock_rows(sa.select(Household.id).where(*where).order_by(Household.id), read=True))


def _quantity(value, project: Project, household: Household) -> Decimal:
    if value in (None, ""):
        q = amounts.default_quantity(project.unit, household.land_area_mu, household.members)
        if q <= 0:
            raise ValidationError("该户名册中的耕地面积为 0，请填写数量", fields={"quantity": "请填写数量"})
        return q
    try:
        return parse_amount(value, label="数量", minimum=Decimal("0.01"), maximum=MAX_QUANTITY)
    except ValueError as exc:
        raise ValidationError("数量不正确", fields={"quantity": str(exc)}) from None


def _amount(value, project: Project, quantity: Decimal) -> Decimal:
    if value in (None, ""):
        return amounts.entry_amount(project, quantity)
    try:
        return parse_amount(value, label="金额", maximum=MONEY_MAX)
    except ValueError as exc:
        raise ValidationError("金额不正确", fields={"amount": str(exc)}) from None


def _household_of_village(filing: Filing, household_id) -> Household:
    try:
        number = form_id(household_id, "household_id", "农户编号", required=True)
    except ValidationError:
        number = None
    household = db.session.get(Household, number) if number is not None else None
    if household is None or household.region_code != filing.region_code:
        raise ValidationError("该农户不在本村名册中", fields={"household_id": "请从本村名册中选择农户"})
    return household


def _already_filed(project_id: int, household_id: int) -> str | None:
    """The village whose filing of the project already lists this household, if any."""
    return db.session.scalar(
        sa.select(Region.name).join(Filing, Filing.region_code == Region.code).join(Entry, Entry.filing_id == Filing.id)
        .where(Entry.project_id == project_id, Entry.household_id == household_id))



@requires(Perm.edit_filings)
def add_entry(actor, filing_id: int, household_id, quantity=None, amount=None) -> Entry:
    filing = editable_filing(actor, filing_id)
    household = _household_of_village(filing, household_id)
    where = _already_filed(filing.project_id, household.id)
    if where:
        raise Conflict(f"该户已在本项目“{where}”的备案中，同一项目一户只能申报一次",
                       fields={"household_id": "已申报"}, code="duplicate")
    q = _quantity(quantity, filing.project, household)
    a = _amount(amount, filing.project, q)
    _hold_households(Household.id == household.id)
    _mark_changed(filing)
    entry = Entry(filing_id=filing.id, project_id=filing.project_id, household_id=household.id, quantity=q, amount=a,
                  created_by=actor.id)
    add_unique(entry, Conflict("该户已在本项目的备案中", code="duplicate"))
    risk.run_checks(filing, [entry.id])
    audit.record(actor, "filing.entry_add", "filing", filing.id, region_code=filing.region_code, entry_id=entry.id,
                 household_id=household.id, quantity=q, amount=a)
    return entry


@requires(Perm.edit_filings)
def update_entry(actor, filing_id: int, entry_id: int, quantity=None, amount=None) -> Entry:
    filing = editable_filing(actor, filing_id)
    entry = _entry_of(filing, entry_id)
    household = db.session.get(Household, entry.household_id)
    q = entry.quantity if quantity in (None, "") else _quantity(quantity, filing.project, household)
    if amount in (None, ""):
        a = amounts.entry_amount(filing.project, q) if q != entry.quantity else entry.amount
    else:
        a = _amount(amount, filing.project, q)
    before = {"quantity": entry.quantity, "amount": entry.amount}
    if (q, a) == (entry.quantity, entry.amount):
        return entry
    _mark_changed(filing)
    entry.quantity, entry.amount = q, a
    db.session.flush()
    risk.run_checks(filing, [entry.id])
    audit.record(actor, "filing.entry_update", "filing", filing.id, region_code=filing.region_code, entry_id=entry.id,
                 household_id=entry.household_id, before=before, after={"quantity": q, "amount": a})
    return entry


@requires(Perm.edit_filings)
def delete_entry(actor, filing_id: int, entry_id: int) -> None:
    filing = editable_filing(actor, filing_id)
    entry = _entry_of(filing, entry_id)
    _refuse_if_paid_out(entry)
    _mark_changed(filing)
    detail = {"entry_id": entry.id, "household_id": entry.household_id, "quantity": entry.quantity,
              "amount": entry.amount}
    db.session.execute(sa.delete(EntryFlag).where(EntryFlag.entry_id == entry.id))
    db.session.delete(entry)
    db.session.flush()
    audit.record(actor, "filing.entry_delete", "filing", filing.id, region_code=filing.region_code, **detail)


def _refuse_if_paid_out(entry: Entry) -> None:
    """An entry with payments stays on the list (its payments are the record of what was paid):
    a correction takes such a household off by setting its amount to 0."""
    from subsidy.payments.models import Payment

    if db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(Payment.entry_id == entry.id)):
        raise Conflict("该户已有发放记录，不能从名单中删除：更正时请把金额改为 0（取消），"
                       "县级审定后按已发放金额登记追回", code="has_payments")


def _entry_of(filing: Filing, entry_id) -> Entry:
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.filing_id != filing.id:
        raise NotFound("名单中没有这一户")
    return entry


@requires(Perm.edit_filings)
def add_all_households(actor, filing_id: int) -> dict:
    """Every household of the village not yet listed for this project, in one INSERT … SELECT.
    Households listed in another village's filing of the project, and households without land
    for a per-亩 project, are left out and counted."""
    filing = editable_filing(actor, filing_id)
    project = filing.project
    qty = amounts.default_quantity_sql(project.unit, Household.land_area_mu, Household.members)
    taken = sa.exists(sa.select(Entry.id).where(Entry.project_id == project.id, Entry.household_id == Household.id))
    amount = amounts.entry_amount_sql(project, sa.literal(project.rate, Project.rate.type), qty)
    now = sa.literal(utcnow(), UTCDateTime())
    source = (sa.select(sa.literal(filing.id), sa.literal(project.id), Household.id, qty, amount, now,
                        sa.literal(actor.id), now)
              .where(Household.region_code == filing.region_code, qty > 0, ~taken))
    counts = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((qty <= 0, 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((taken, 1), else_=0)), 0))
        .where(Household.region_code == filing.region_code)).one()
    _hold_households(Household.region_code == filing.region_code)
    _mark_changed(filing)
    listed = sa.select(sa.func.count()).select_from(Entry).where(Entry.filing_id == filing.id)
    before = db.session.scalar(listed)
    db.session.execute(sa.insert(Entry).from_select(
        ["filing_id", "project_id", "household_id", "quantity", "amount", "created_at", "created_by", "updated_at"],
        source))
    added = db.session.scalar(listed) - before  # rowcount of INSERT … SELECT is not portable
    flags = risk.run_checks(filing)
    summary = {"added": added, "households": counts[0], "skipped_zero": int(counts[1]),
               "skipped_listed": int(counts[2]), "flags": flags}
    audit.record(actor, "filing.entry_add_all", "filing", filing.id, region_code=filing.region_code, **summary)
    return summary


@requires(Perm.edit_filings)
def search_candidates(actor, filing: Filing, q: str, limit: int = 20) -> list[Household]:
    """Households of the filing's village matching `q` that no filing of the project lists yet."""
    from subsidy.households.service import search_statement

    if not (q or "").strip():
        return []
    taken = sa.exists(sa.select(Entry.id).where(Entry.project_id == filing.project_id,
                                                Entry.household_id == Household.id))
    stmt = search_statement(actor, filing.region_code, q).where(~taken).order_by(Household.id).limit(limit)
    return list(db.session.scalars(stmt))

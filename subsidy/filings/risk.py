"""Risk checks on a filing's entries (docs/design.md "Three-level filing and review", risk checks).

Each check is one set-based statement (INSERT … SELECT) over the filing's entries; none loads
an entry per row. They run when a filing is publicized and again at each review, and on a single
entry when the clerk adds or changes it. A flag never blocks by itself: the township must write
a note on every flagged entry before it approves (see `workflow`).

"The same ID in another filing of the same project": household ID numbers are unique in the
register, so one household cannot be listed twice for a project (the database refuses it). What
can happen is the same *person* registered twice under numbers that differ only in the check
digit (a typo, or a record carried over from an older system without validation). Such a pair
shares the first 17 characters (region, birth date, sequence: the person), so the check matches
on those 17 characters, across every village's filing of the project, and names the village.

"Quantity above the registered amount": the register holds land (亩) but no livestock count, so
the check applies to per-亩 projects only."""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.common.database import cents_to_money, two_decimals, upsert_insert
from subsidy.common.model_base import UTCDateTime
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState, FlagCode, WatchCategory, WatchListEntry
from subsidy.households.models import Household
from subsidy.households.validation import id_number_problem
from subsidy.projects.amounts import cents, entry_cents_sql, standard_cents_sql
from subsidy.projects.models import Category, Project, Unit
from subsidy.regions.models import Region
from subsidy.regions.scope import code_range
from subsidy.regions.service import county_of

_COLUMNS = ["filing_id", "entry_id", "code", "explanation", "created_at"]


def _text(expr):
    return sa.type_coerce(sa.cast(expr, sa.String), sa.String)


def _lit(text: str):
    return sa.literal(text, sa.String)


def _base(filing: Filing, entry_ids: Iterable[int] | None):
    stmt = (sa.select(Entry.id.label("entry_id")).select_from(Entry)
            .join(Household, Household.id == Entry.household_id)
            .where(Entry.filing_id == filing.id))
    if entry_ids is not None:
        stmt = stmt.where(Entry.id.in_(list(entry_ids)))
    return stmt


def _insert(filing: Filing, code: FlagCode, select) -> None:
    """`select` yields (entry_id, explanation); wrap it into an INSERT … SELECT of flags."""
    sub = select.subquery()
    now = sa.literal(utcnow(), UTCDateTime())
    source = sa.select(sa.literal(filing.id), sub.c.entry_id, sa.literal(code.value),
                       sa.func.substr(sub.c.explanation, 1, 255), now)
    db.session.execute(sa.insert(EntryFlag).from_select(_COLUMNS, source))


def check_invalid_id(filing, entry_ids=None) -> None:
    """GB 11643 (the register's own rule, `households.validation.id_number_problem`): computed
    in Python over one query's rows (the checksum is not SQL), written with one multi-row INSERT.
    The register refuses such numbers; this finds those carried over from older records."""
    rows = db.session.execute(_base(filing, entry_ids).add_columns(Household.id_number)).all()
    now = utcnow()
    flags = []
    for entry_id, id_number in rows:
        why = id_number_problem(id_number)
        if why:
            flags.append({"filing_id": filing.id, "entry_id": entry_id, "code": FlagCode.invalid_id,
                          "explanation": f"户主身份证号未通过国家标准（GB 11643）校验：{why}"[:255],
                          "created_at": now})
    if flags:
        db.session.execute(sa.insert(EntryFlag), flags)


def check_duplicate_id(filing, entry_ids=None) -> None:
    """Two statements: first the (rare) pairs of households sharing the 17-character body,
    found through a range on the unique ID index from this filing's households only; then, for
    those alone, the INSERT … SELECT of flags where the other household is listed for the
    project. (One statement joining everything lets SQLite's planner walk the project's entries
    for every entry: quadratic.)"""
    other_h = aliased(Household)
    body = sa.type_coerce(sa.func.substr(Household.id_number, 1, 17), sa.String)
    same_person = sa.and_(other_h.id_number.between(body, body + "X"), other_h.id != Household.id)
    pairs = db.session.execute(_base(filing, entry_ids).join(other_h, same_person).add_columns(other_h.id)).all()
    if not pairs:
        return
    other_e = aliased(Entry)
    other_f = aliased(Filing)
    stmt = (_base(filing, [p[0] for p in pairs])
            .join(other_h, sa.and_(same_person, other_h.id.in_({p[1] for p in pairs})))
            .join(other_e, sa.and_(other_e.household_id == other_h.id, other_e.project_id == Entry.project_id))
            .join(other_f, other_f.id == other_e.filing_id)
            .join(Region, Region.code == other_f.region_code)
            .group_by(Entry.id)
            .add_columns((_lit("同一身份证号（前 17 位相同，疑为同一人）已在本项目“") + sa.func.min(Region.name)
                          + _lit("”的备案中申报，共 ") + _text(sa.func.count(other_e.id)) + _lit(" 处"))
                         .label("explanation")))
    _insert(filing, FlagCode.duplicate_id, stmt)


def check_amount_above_rate(filing, entry_ids=None) -> None:
    if filing.project.category == Category.material:
        _check_material_amount(filing, entry_ids)
        return
    expected = standard_cents_sql(Project.rate, Entry.quantity)
    stmt = (_base(filing, entry_ids).join(Project, Project.id == Entry.project_id)
            .where(cents(Entry.amount) > expected)
            .add_columns((_lit("申报金额 ") + two_decimals(Entry.amount) + _lit(" 元，高于补贴标准×数量 = ")
                          + two_decimals(Project.rate) + _lit("×") + two_decimals(Entry.quantity) + _lit(" = ")
                          + two_decimals(cents_to_money(expected)) + _lit(" 元")).label("explanation")))
    _insert(filing, FlagCode.amount_above_rate, stmt)


def _check_material_amount(filing, entry_ids=None) -> None:
    """A material entry's amount is its goods valued at the unit price (docs/design.md
    "Material subsidies")."""
    project = filing.project
    expected = entry_cents_sql(project, Project.rate, Entry.quantity)
    stmt = (_base(filing, entry_ids).join(Project, Project.id == Entry.project_id)
            .where(cents(Entry.amount) > expected)
            .add_columns((_lit("申报金额 ") + two_decimals(Entry.amount) + _lit(" 元，高于应领实物按单价折算的 ")
                          + two_decimals(cents_to_money(expected)) + _lit(" 元")).label("explanation")))
    _insert(filing, FlagCode.amount_above_rate, stmt)


def check_quantity_above_land(filing, entry_ids=None) -> None:
    if filing.project.unit != Unit.mu:
        return
    stmt = (_base(filing, entry_ids).where(cents(Entry.quantity) > cents(Household.land_area_mu))
            .add_columns((_lit("申报 ") + two_decimals(Entry.quantity) + _lit(" 亩，超过名册登记的耕地面积 ")
                          + two_decimals(Household.land_area_mu) + _lit(" 亩")).label("explanation")))
    _insert(filing, FlagCode.quantity_above_land, stmt)


def check_shared_account(filing, entry_ids=None) -> None:
    """The same 一卡通 account on several households anywhere in the county."""
    other = aliased(Household)
    lo, hi = code_range(filing.region_code[:6])
    stmt = (_base(filing, entry_ids)
            .join(other, sa.and_(other.payout_account == Household.payout_account, other.id != Household.id,
                                 other.region_code.between(lo, hi)))
            .where(Household.payout_account.is_not(None), Household.payout_account != "")
            .group_by(Entry.id)
            .add_columns((_lit("一卡通账号与本县另外 ") + _text(sa.func.count(other.id))
                          + _lit(" 户相同，请核实是否代领")).label("explanation")))
    _insert(filing, FlagCode.shared_account, stmt)


# Counterpart filings still under review get the mirror flag; an approved or paid list's record
# is closed and is not rewritten (its reviewers have acted).
_UNDER_REVIEW = (FilingState.publicizing, FilingState.village_filed, FilingState.township_approved)
_SAME_TYPE = "与外县同类补贴（同年度）名单中的 {n} 户相同，"
_OTHER_COUNTY_TEXT = {
    FlagCode.shared_account_other_county: "一卡通账号" + _SAME_TYPE + "请核实是否重复领取或代领",
    FlagCode.shared_phone_other_county: "手机号码" + _SAME_TYPE + "请核实是否同一人在两县申报",
}


def _check_other_county(filing, entry_ids, code: FlagCode, column: str) -> None:
    """One payout account (phone) on households listed for the same subsidy type and year in
    another county of the city (docs/design.md "Three-level filing and review"). "Another county"
    is the other *filing's* county, so a household that moved and is listed by both counties is
    caught too (the same household is kept, unlike `check_shared_account`). Types belong to one
    city, so the comparison never leaves it.

    Two statements, as `check_duplicate_id`: the (rare) pairs, found from this filing's
    households through the indexed column; then the flags of those entries alone in one INSERT,
    and their mirror on the counterpart entries whose filings are still under review (on
    conflict nothing: a flag already there stays). The explanation gives counts only, never the
    other county or household: the check must not be a way to look up another county's register."""
    project = filing.project
    if project.subsidy_type_id is None:
        return
    mine, theirs = getattr(Household, column), aliased(Household)
    other_e, other_f, other_p = aliased(Entry), aliased(Filing), aliased(Project)
    lo, hi = code_range(county_of(filing.region_code))
    pairs = db.session.execute(
        _base(filing, entry_ids)
        .join(theirs, getattr(theirs, column) == mine)
        .join(other_e, other_e.household_id == theirs.id)
        .join(other_f, other_f.id == other_e.filing_id)
        .join(other_p, other_p.id == other_e.project_id)
        .where(mine.is_not(None), mine != "", other_p.subsidy_type_id == project.subsidy_type_id,
               other_p.year == project.year, other_f.state != FilingState.draft,
               ~other_f.region_code.between(lo, hi))
        .add_columns(theirs.id, other_e.id, other_f.id, other_f.state)).all()
    if not pairs:
        return
    counts: dict[int, set[int]] = {}
    mirrors: dict[tuple[int, int], set[int]] = {}
    for entry_id, their_household, their_entry, their_filing, their_state in pairs:
        counts.setdefault(entry_id, set()).add(their_household)
        if filing.state != FilingState.draft and their_state in _UNDER_REVIEW:
            mirrors.setdefault((their_filing, their_entry), set()).add(entry_id)
    now, text = utcnow(), _OTHER_COUNTY_TEXT[code]
    db.session.execute(sa.insert(EntryFlag), [
        {"filing_id": filing.id, "entry_id": e, "code": code, "explanation": text.format(n=len(others)),
         "created_at": now} for e, others in counts.items()])
    if mirrors:
        db.session.execute(upsert_insert(EntryFlag).on_conflict_do_nothing(
            index_elements=["entry_id", "code"]), [
            {"filing_id": f, "entry_id": e, "code": code, "explanation": text.format(n=len(ours)),
             "created_at": now} for (f, e), ours in mirrors.items()])


def check_other_county_account(filing, entry_ids=None) -> None:
    _check_other_county(filing, entry_ids, FlagCode.shared_account_other_county, "payout_account")


def check_other_county_phone(filing, entry_ids=None) -> None:
    _check_other_county(filing, entry_ids, FlagCode.shared_phone_other_county, "phone")


def check_watch_list(filing, entry_ids=None) -> None:
    """Head of household on the county's watch list; every category found is named."""
    label = sa.case({c.value: c.source for c in WatchCategory}, value=WatchListEntry.category)
    item = (sa.type_coerce(label, sa.String) + _lit("（来源：") + sa.func.coalesce(WatchListEntry.source, "")
            + _lit("）"))
    stmt = (_base(filing, entry_ids)
            .join(WatchListEntry, sa.and_(WatchListEntry.id_number == Household.id_number,
                                          WatchListEntry.county_code == filing.region_code[:6]))
            .group_by(Entry.id)
            .add_columns((_lit("户主在比对名单中：") + sa.func.aggregate_strings(item, "；")).label("explanation")))
    _insert(filing, FlagCode.watch_list, stmt)


def check_no_phone(filing, entry_ids=None) -> None:
    stmt = (_base(filing, entry_ids).where(sa.or_(Household.phone.is_(None), Household.phone == ""))
            .add_columns(_lit("名册中没有手机号码，审定和发放短信无法送达").label("explanation")))
    _insert(filing, FlagCode.no_phone, stmt)


CHECKS = (check_invalid_id, check_duplicate_id, check_amount_above_rate, check_quantity_above_land,
          check_shared_account, check_other_county_account, check_other_county_phone, check_watch_list,
          check_no_phone)


def run_checks(filing: Filing, entry_ids: Iterable[int] | None = None) -> int:
    """Recompute the flags of the whole filing (or of the given entries); returns how many."""
    entry_ids = None if entry_ids is None else list(entry_ids)
    delete = sa.delete(EntryFlag).where(EntryFlag.filing_id == filing.id)
    if entry_ids is not None:
        delete = delete.where(EntryFlag.entry_id.in_(entry_ids))
    db.session.execute(delete)
    for check in CHECKS:
        check(filing, entry_ids)
    count = sa.select(sa.func.count()).select_from(EntryFlag).where(EntryFlag.filing_id == filing.id)
    if entry_ids is not None:
        count = count.where(EntryFlag.entry_id.in_(entry_ids))
    return db.session.scalar(count)

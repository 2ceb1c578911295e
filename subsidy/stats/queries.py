"""Set-based figures of the filings and payments areas, grouped by region.

Every function takes a region code `code`, a year and a key width `width` (6, 9 or 12) and
answers {group key: figures} with ONE query grouped by `substr(region_code, 1, width)`; width
equal to len(code) gives the region's own total. The range condition `within(...)` on the
indexed `region_code` columns keeps each query to the rows under the region.

Year: a filing, entry or payment belongs to its project's year (the subsidy year the county
reports on: a 2017 project's list filed in January 2018 is 2017's).
"""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.common.database import local_month
from subsidy.extensions import db
from subsidy.filings.models import EntryFlag, EntryNote, Filing, FilingState, Review, Snapshot, Stage
from subsidy.payments.models import Payment, PaymentStatus
from subsidy.payments.service import cents, from_cents
from subsidy.projects.models import Project
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import county_scope, within

S = FilingState
FILED_STATES = (S.village_filed, S.township_approved, S.county_approved, S.paid)
REVIEWED_STATES = (S.county_approved, S.paid)
OPEN_FLAG_STATES = (S.publicizing, S.village_filed, S.township_approved)


def _key(column, width: int):
    return sa.func.substr(column, 1, width).label("k")


def villages(code: str, width: int) -> dict[str, int]:
    key = _key(Region.code, width)
    return dict(db.session.execute(sa.select(key, sa.func.count()).where(
        within(Region.code, code), Region.level == Level.village).group_by(key)).all())


def _reached(states):
    """The filing reached one of `states` at some time: it is there now, or a review record
    says it went there (a filing returned after 村级备案 was still filed)."""
    return sa.or_(Filing.state.in_(states), sa.exists(
        sa.select(Review.id).where(Review.filing_id == Filing.id, Review.to_state.in_(states))))


def _mismatched(code: str):
    """Ids of the filings under `code` with a snapshot of the current round that differs from
    the one it must equal: a tier's list from the publicized one, or the paid list from the
    county-approved one. Driven from the region's filings, so that only their snapshots are
    read (as a correlated EXISTS, PostgreSQL hashes every snapshot of the province)."""
    a, b, f = aliased(Snapshot), aliased(Snapshot), aliased(Filing)
    pairs = sa.or_(sa.and_(a.stage == Stage.paid, b.stage == Stage.county),
                   sa.and_(a.stage.in_((Stage.village, Stage.township, Stage.county)), b.stage == Stage.publicized))
    return (sa.select(a.filing_id.label("filing_id")).join(f, sa.and_(f.id == a.filing_id, f.round == a.round))
            .join(b, sa.and_(b.filing_id == a.filing_id, b.round == a.round))
            .where(within(f.region_code, code), pairs, a.digest != b.digest).distinct().subquery())


def filings(code: str, year: int, width: int) -> dict[str, dict]:
    key = _key(Filing.region_code, width)
    one = lambda cond: sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)  # noqa: E731
    mismatched = _mismatched(code)
    stmt = (sa.select(key, sa.func.count(), one(_reached(FILED_STATES)), one(_reached(REVIEWED_STATES)),
                      one(Filing.state == S.paid), sa.func.count(mismatched.c.filing_id))
            .join(Project, Project.id == Filing.project_id)
            .outerjoin(mismatched, mismatched.c.filing_id == Filing.id)
            .where(within(Filing.region_code, code), Project.year == year).group_by(key))
    return {k: {"filings": n, "filed": int(filed), "reviewed": int(reviewed), "paid_filings": int(paid),
                "mismatches": int(mm)}
            for k, n, filed, reviewed, paid, mm in db.session.execute(stmt)}


def _latest(stage: Stage):
    """The filing's latest snapshot of `stage` in its current round (a county return to the
    township and a second 审定 leave two in one round; the later one counts): the snapshot
    to join and the join condition, one index probe per filing."""
    snap, later = aliased(Snapshot), aliased(Snapshot)
    return snap, sa.and_(snap.filing_id == Filing.id, snap.round == Filing.round, snap.stage == stage,
                         ~sa.exists(sa.select(later.id).where(later.filing_id == snap.filing_id,
                                                              later.round == snap.round, later.stage == stage,
                                                              later.id > snap.id)))


def _grouped(stmt, n: int) -> dict:
    """{key: Decimal} from rows (key columns..., cents); a key of several columns is a tuple."""
    out: dict = {}
    for *keys, c in db.session.execute(stmt):
        k = keys[0] if n == 1 else tuple(keys)
        out[k] = out.get(k, Decimal("0.00")) + from_cents(c)
    return out


def _keys(width: int, by) -> list:
    by = by if by is not None else _key(Filing.region_code, width)
    return [c.label(f"k{i}") for i, c in enumerate(by if isinstance(by, tuple) else (by,))]


def approved_amounts(code: str, year: int, width: int, by=None) -> dict:
    """Money approved by the county: the total of each county-approved or paid filing's `county`
    snapshot. The snapshot is the maintained summary here: taken at 审定, when the list can no
    longer change, it holds the count and total of the entries, so the dashboard reads one row
    per filing instead of every entry. `by` groups by another column (the project), or by a
    tuple of columns (keys are then tuples)."""
    keys = _keys(width, by)
    snap, latest = _latest(Stage.county)
    stmt = (sa.select(*keys, sa.func.sum(cents(snap.total_amount)))
            .select_from(Filing).join(Project, Project.id == Filing.project_id)
            .join(snap, latest)
            .where(within(Filing.region_code, code), Project.year == year, Filing.state.in_(REVIEWED_STATES))
            .group_by(*keys))
    return _grouped(stmt, len(keys))


def paid_amounts(code: str, year: int, width: int, by=None) -> dict:
    """Money the bank reported paid. A paid filing's is its `paid` snapshot total (the workflow
    takes it once every entry's payment is paid, so it equals the sum of those payments); a
    filing still being paid adds its paid payments one by one. Both read few rows."""
    keys = _keys(width, by)
    snap, latest = _latest(Stage.paid)
    done = (sa.select(*keys, sa.func.sum(cents(snap.total_amount)))
            .select_from(Filing).join(Project, Project.id == Filing.project_id)
            .join(snap, latest)
            .where(within(Filing.region_code, code), Project.year == year, Filing.state == S.paid).group_by(*keys))
    # Driven from the filings still being paid, one index look-up (filing, status) each: the
    # payments of finished filings are never read.
    per_filing = (sa.select(sa.func.sum(cents(Payment.amount)))
                  .where(Payment.filing_id == Filing.id, Payment.status == PaymentStatus.paid).scalar_subquery())
    inner = (sa.select(*keys, per_filing.label("c")).select_from(Filing)
             .join(Project, Project.id == Filing.project_id)
             .where(within(Filing.region_code, code), Project.year == year, Filing.state == S.county_approved)
             .subquery())
    inner_keys = [inner.c[k.name] for k in keys]
    going = sa.select(*inner_keys, sa.func.sum(inner.c.c)).group_by(*inner_keys)
    out = _grouped(done, len(keys))
    for k, v in _grouped(going, len(keys)).items():
        out[k] = out.get(k, Decimal("0.00")) + v
    return out


def amounts(code: str, year: int, width: int) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
    """Approved and paid money per (region of code length `width`, project): the regions' rows
    and the budget use per project both add up from these few rows, so neither is queried twice."""
    by = (_key(Filing.region_code, width), Filing.project_id)
    approved, paid = approved_amounts(code, year, width, by=by), paid_amounts(code, year, width, by=by)
    zero = Decimal("0.00")
    return {k: (approved.get(k, zero), paid.get(k, zero)) for k in set(approved) | set(paid)}


def open_flags(code: str, year: int, width: int) -> dict[str, int]:
    """Risk flags on lists under review (公示 to 乡镇审核) without a reviewer's note this round."""
    key = _key(Filing.region_code, width)
    noted = sa.exists(sa.select(EntryNote.id).where(EntryNote.entry_id == EntryFlag.entry_id,
                                                    EntryNote.round == Filing.round))
    stmt = (sa.select(key, sa.func.count())
            .select_from(EntryFlag).join(Filing, Filing.id == EntryFlag.filing_id)
            .join(Project, Project.id == Filing.project_id)
            .where(within(Filing.region_code, code), Project.year == year, Filing.state.in_(OPEN_FLAG_STATES), ~noted)
            .group_by(key))
    return dict(db.session.execute(stmt).all())


def projects(code: str, year: int, money: dict[int, tuple[Decimal, Decimal]] | None = None) -> list[dict]:
    """Budget use per project of the county (of every county of a city or province): budget,
    approved and paid under `code`, and the county the project is of (a city's table lists
    each county's projects); `money` {project id: (approved, paid)} when already added up
    from `amounts`."""
    if money is None:
        money = {pid: m for (_k, pid), m in amounts(code, year, len(code)).items()}
    zero = (Decimal("0.00"), Decimal("0.00"))
    out = []
    for p, county in db.session.execute(
            sa.select(Project, Region.name).join(Region, Region.code == Project.county_code)
            .where(within(Project.county_code, county_scope(code)), Project.year == year)
            .order_by(Project.name, Project.county_code)):
        a, d = money.get(p.id, zero)
        out.append({"id": p.id, "name": p.name, "category": p.category.value, "county_code": p.county_code,
                    "county": county, "budget": p.budget, "approved": a, "paid": d,
                    "used_rate": round(float(a / p.budget), 3) if p.budget else None,
                    "paid_rate": round(float(d / a), 3) if a else None})
    return out


def cases_by_month(code: str, year: int) -> list[dict]:
    """Cases received per month (China time) by kind, for the chart: one GROUP BY over the
    cases area's table. Rejected (invalid) cases are left out, as from every rate."""
    from subsidy.cases.models import EXCLUDED_STATES, Case, CaseKind
    from subsidy.cases.stats import year_period

    start, end = year_period(year)
    month = local_month(Case.received_at)
    rows = db.session.execute(
        sa.select(month.label("m"), Case.kind, sa.func.count())
        .where(within(Case.region_code, code), Case.received_at >= start, Case.received_at < end,
               Case.state.not_in(EXCLUDED_STATES))
        .group_by(month, Case.kind)).all()
    out = {f"{year}-{m:02d}": {"month": f"{year}-{m:02d}", "inquiries": 0, "complaints": 0, "objections": 0}
           for m in range(1, 13)}
    names = {CaseKind.inquiry: "inquiries", CaseKind.complaint: "complaints", CaseKind.objection: "objections"}
    for m, kind, n in rows:
        if m in out:
            out[m][names[kind]] = n
    return list(out.values())

"""Benchmark: the cross-county risk checks (一卡通 account and phone shared with a household listed
for the same subsidy type and year in another county of the city) at province scale, on an
existing (generated) database.

    python bench/bench_cross_county.py --database-url URL [--runs 5] [--limit N]

Nothing is generated: run `bench/generate.py` first (its cities have a subsidy catalogue, every
project a type, and cross-county pairs planted at a known rate). In-process, inside one
transaction that is rolled back at the end, so the database is left as it was:

- one filing, the largest (`--big-filing 5000` makes one of 5,000 entries): the two checks,
  `check_other_county_account` and `check_other_county_phone`, as a review runs them (the
  filing's flags of those two codes cleared first), median and p95 of `--runs` runs;
- the whole province in one set-based sweep (`flask filings cross-county`, nightly), timed once;
- the whole province again as publicity and the reviews see it: both checks over every filing
  past its draft (or the first `--limit`; `--limit 0` skips it), one filing at a time, timed once.

Baseline, measured in the same run: one bare set-based statement over the same rows, the count
of (entry, other county's entry) pairs sharing an account under the same type and year. The
ratio says how many such passes the per-filing checks cost in all; the issue's target is "in
seconds, set-based". Each figure is recorded for `bench.run` (`bench.report`); nothing is
asserted about time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import aliased  # noqa: E402

from bench.bench_dashboard import p95  # noqa: E402
from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, record  # noqa: E402


def _bare_pairs(db) -> int:
    """The baseline: every pair of entries whose households share a payout account, listed
    under projects of the same type and year in two different counties, in one statement."""
    from subsidy.filings.models import Entry, Filing, FilingState
    from subsidy.households.models import Household
    from subsidy.projects.models import Project

    e1, e2 = aliased(Entry), aliased(Entry)
    h1, h2 = aliased(Household), aliased(Household)
    p1, p2 = aliased(Project), aliased(Project)
    f1, f2 = aliased(Filing), aliased(Filing)
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(e1)
        .join(h1, h1.id == e1.household_id).join(p1, p1.id == e1.project_id).join(f1, f1.id == e1.filing_id)
        .join(h2, h2.payout_account == h1.payout_account)
        .join(e2, e2.household_id == h2.id).join(p2, p2.id == e2.project_id).join(f2, f2.id == e2.filing_id)
        .where(h1.payout_account.is_not(None), h1.payout_account != "",
               p1.subsidy_type_id.is_not(None), p2.subsidy_type_id == p1.subsidy_type_id, p2.year == p1.year,
               f1.state != FilingState.draft, f2.state != FilingState.draft,
               sa.func.substr(f1.region_code, 1, 6) != sa.func.substr(f2.region_code, 1, 6)))


def figures(db, runs: int, limit: int | None) -> list[str]:
    from subsidy.filings import risk
    from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState, FlagCode
    from subsidy.projects.models import Project

    codes = (FlagCode.shared_account_other_county, FlagCode.shared_phone_other_county)

    def check(filing):
        db.session.execute(sa.delete(EntryFlag).where(EntryFlag.filing_id == filing.id, EntryFlag.code.in_(codes)))
        risk.check_other_county_account(filing)
        risk.check_other_county_phone(filing)

    lines = []
    start = time.perf_counter()
    pairs = _bare_pairs(db)
    baseline = (time.perf_counter() - start) * 1000
    lines.append(f"  baseline, one bare set-based pass: {pairs:,} cross-county account pairs in {baseline:.0f} ms")

    typed = (sa.select(Filing).join(Project, Project.id == Filing.project_id)
             .where(Project.subsidy_type_id.is_not(None), Filing.state != FilingState.draft))
    sizes = (sa.select(Entry.filing_id, sa.func.count().label("n")).group_by(Entry.filing_id).subquery())
    big = db.session.execute(typed.join(sizes, sizes.c.filing_id == Filing.id).add_columns(sizes.c.n)
                             .order_by(sizes.c.n.desc()).limit(1)).first()
    if big is None:
        return lines + ["  no typed filing past its draft: nothing to check (generate a province first)"]
    filing, entries = big
    check(filing)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        check(filing)
        times.append((time.perf_counter() - t) * 1000)
    one = statistics.median(times)
    record(Figure(key="cross_county_check_filing", label=f"跨县核查：一个备案 {entries:,} 户（两项检查）",
                  value=round(one, 1), unit="ms", target="seconds, set-based", met=None,
                  baseline=round(baseline, 1), ratio=round(one / baseline, 2) if baseline else None,
                  note=f"p95 {p95(times):.0f} ms"))
    lines.append(f"  one filing of {entries:,} entries: median {one:.0f} ms, p95 {p95(times):.0f} ms "
                 f"(×{one / baseline:.2f} the bare pass)" if baseline else f"  one filing: {one:.0f} ms")

    from subsidy.filings.cross_county import sweep

    t = time.perf_counter()
    found = sweep()
    swept = time.perf_counter() - t
    record(Figure(key="cross_county_sweep_province", label="跨县核查：全省一次集合运算（flask filings cross-county）",
                  value=round(swept * 1000, 1), unit="ms", target="seconds, set-based", met=None,
                  baseline=round(baseline, 1), ratio=round(swept * 1000 / baseline, 2) if baseline else None,
                  note=", ".join(f"{k} {v}" for k, v in found.items())))
    lines.append(f"  the whole province in one set-based sweep: {swept:.2f} s "
                 f"(×{swept * 1000 / baseline:.2f} the bare pass): {found}" if baseline else
                 f"  sweep: {swept:.2f} s")
    if limit == 0:
        return lines

    ids = db.session.scalars(sa.select(Filing.id).join(Project, Project.id == Filing.project_id)
                             .where(Project.subsidy_type_id.is_not(None), Filing.state != FilingState.draft)
                             .order_by(Filing.id).limit(limit)).all()
    t = time.perf_counter()
    for filing_id in ids:
        check(db.session.get(Filing, filing_id))
    whole = time.perf_counter() - t
    flagged = db.session.scalar(sa.select(sa.func.count()).select_from(EntryFlag).where(EntryFlag.code.in_(codes)))
    record(Figure(key="cross_county_check_province", label=f"跨县核查：全省 {len(ids):,} 个备案逐一核查",
                  value=round(whole * 1000, 1), unit="ms", target="seconds, set-based", met=None,
                  baseline=round(baseline, 1), ratio=round(whole * 1000 / baseline, 1) if baseline else None,
                  note=f"{flagged:,} flags"))
    lines.append(f"  every filing ({len(ids):,}), one at a time: {whole:.1f} s, {flagged:,} flags "
                 f"({whole * 1000 / max(1, len(ids)):.1f} ms a filing; ×{whole * 1000 / baseline:.1f} the bare pass)"
                 if baseline else f"  every filing: {whole:.1f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=int, help="check only the first N filings of the province")
    args = parser.parse_args()
    if not args.database_url:
        sys.exit("--database-url (or DATABASE_URL) is required: this benchmark reads a generated database")

    from subsidy import create_app
    from subsidy.extensions import db
    from subsidy.filings.models import Entry

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY,
                      "TESTING": True})
    with app.app_context():
        entries = db.session.scalar(sa.select(sa.func.count()).select_from(Entry))
        print(f"cross-county check bench on {db.engine.dialect.name}: {entries:,} entries; "
              f"{max(1, args.runs)} runs of the single filing", flush=True)
        try:
            for line in figures(db, max(1, args.runs), args.limit):
                print(line, flush=True)
        finally:
            db.session.rollback()  # the flags written are not kept
        db.engine.dispose()


if __name__ == "__main__":
    main()

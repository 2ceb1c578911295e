"""Benchmark: the `/stats/summary` and dashboard queries over a generated county (or province).

    python bench/bench_stats.py [--size county|province|demo] [--households N] [--database-url URL] [--reset]
                                [--runs 5]

county:   the demo county 640425 alone: 50,000 households, ~200,000 entries;
province: 20 counties of that shape: 1,000,000 households, ~4,000,000 entries;
demo:     `flask demo load` (the demo city 固原市 6404, 50 households a village): only the city's
          and its county 640425's summary and dashboard are timed.
The data is `bench.generate`'s (its docstring says what there is, for the year it returns);
queries are timed for county 640425, the other counties' rows beside it. The city lines time
the city 6404 (640425 alone in a generated database) and, when the generator made more
counties, the synthetic city 6410 of its counties 641000… (a prefecture row is added for each,
as the generator writes none yet): its summary (with a block per county) and dashboard
computed live, against the county's.

Without a URL (or DATABASE_URL) a fresh SQLite file in a temporary directory is used. A
PostgreSQL database must be empty, or be named with --reset, which DROPS its public schema:
point it at a scratch database only. Each query runs `--runs` times and the median is printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_households import prepare_database  # noqa: E402

from bench.generate import AUDIT_KEY, COUNTY_HOUSEHOLDS, generate  # noqa: E402

SIZES = {"county": COUNTY_HOUSEHOLDS, "province": 20 * COUNTY_HOUSEHOLDS, "demo": 0}
CITIES = {"6404": "固原市", "6410": "测试市"}  # 6410: the generator's synthetic counties 641000…


def city_checks(db, code: str, y: int) -> dict:
    """The city's and county's summary and dashboard, live, with a city supervisor of each
    city (prefecture rows added where missing); {label: fn}."""
    from subsidy.accounts.models import Role, User
    from subsidy.regions.models import Level, Region
    from subsidy.stats import service

    checks = {}
    for city, name in CITIES.items():
        counties = db.session.scalar(sa.select(sa.func.count()).select_from(Region).where(
            sa.func.length(Region.code) == 6, Region.code.like(f"{city}%")))
        if not counties:
            continue
        if db.session.get(Region, city) is None:
            if db.session.get(Region, city[:2]) is None:
                db.session.add(Region(code=city[:2], name="宁夏回族自治区", level=Level.province))
            db.session.add(Region(code=city, name=name, level=Level.prefecture, parent_code=city[:2]))
            db.session.commit()
        # An unsaved city supervisor: the service checks role and region, and nothing is written.
        user = User(username=f"bench-{city}", name="市级监督员", password_hash="x", role=Role.city_supervisor,
                    region_code=city, active=True)
        checks[f"/stats/summary (city {city}, {counties} counties)"] = (
            lambda u=user, c=city: service.summary(u, c, y, refresh=True))
        checks[f"dashboard (city {city}, {counties} counties)"] = (
            lambda u=user, c=city: service.dashboard(u, c, y, refresh=True))
    county = User(username="bench-county", name="监督员", password_hash="x", role=Role.supervisor, region_code=code,
                  active=True)
    checks[f"/stats/summary (county {code})"] = lambda: service.summary(county, code, y, refresh=True)
    checks[f"dashboard (county {code})"] = lambda: service.dashboard(county, code, y, refresh=True)
    return checks


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="county")
    parser.add_argument("--households", type=int, help="instead of --size")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_stats_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    prepare_database(url, args.reset)

    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.cases.stats import case_summaries
    from subsidy.extensions import db
    from subsidy.notify.numbers import sms_summary
    from subsidy.public.service import mobile_summaries
    from subsidy.stats import materials, queries, service, supervision

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY, "TESTING": True})
    with app.app_context():
        upgrade()
        db.session.commit()
        started = time.perf_counter()
        if args.size == "demo" and not args.households:
            demo(db, args.runs, started)
            return
        made = generate(db.engine, args.households or SIZES[args.size])
        load_seconds = time.perf_counter() - started
        supervisor = db.session.scalar(sa.select(User).where(User.username == made["users"]["supervisor"]))
        code, y = made["county"], made["year"]
        timings: dict[str, float] = {}
        checks = {
            "villages (by township)": lambda: queries.villages(code, 9),
            "filings filed/reviewed/mismatches": lambda: queries.filings(code, y, 6),
            "  filings by township": lambda: queries.filings(code, y, 9),
            "approved amount": lambda: queries.approved_amounts(code, y, 6),
            "  approved by township": lambda: queries.approved_amounts(code, y, 9),
            "paid amount": lambda: queries.paid_amounts(code, y, 6),
            "  paid by township": lambda: queries.paid_amounts(code, y, 9),
            "open risk flags": lambda: queries.open_flags(code, y, 6),
            "budget per project": lambda: queries.projects(code, y),
            "policies_published": lambda: service._policies(code, y),
            "sms block": lambda: sms_summary(code, y),
            "mobile block": lambda: mobile_summaries(code, len(code)),
        }
        checks["cases blocks"] = lambda: service._cases(code, y)
        checks["cases by township (one GROUP BY)"] = lambda: case_summaries(code, y, 9)
        checks["cases by month"] = lambda: queries.cases_by_month(code, y)
        checks["supervision block (问题处置)"] = lambda: supervision.figures(code, y, 6)
        checks["  supervision by township"] = lambda: supervision.figures(code, y, 9)
        checks["materials block (实物发放)"] = lambda: materials.figures(code, y, 6)
        checks["  materials by township"] = lambda: materials.figures(code, y, 9)
        checks["  township stores"] = lambda: materials.stock(code, y)
        # The whole page and the API, computed (refresh=True: never served from the kept summary).
        checks["/stats/summary (county)"] = lambda: service.summary(supervisor, code, y, refresh=True)
        checks["dashboard (county, 12 townships)"] = lambda: service.dashboard(supervisor, code, y, refresh=True)
        checks["dashboard (township 640425100)"] = lambda: service.dashboard(supervisor, "640425100", y, refresh=True)
        checks["dashboard served from kept summary"] = lambda: service.dashboard(supervisor, code, y)
        checks.update(city_checks(db, code, y))
        for label, fn in checks.items():
            timings[label] = median_time(fn, args.runs)
            db.session.rollback()
        summary = service.summary(supervisor, code, y)
        # The snapshot-based amounts equal the sums over entries and payments they stand for.
        direct_approved = db.session.execute(sa.text(
            "SELECT sum(e.amount) FROM filing_entries e JOIN filings f ON f.id = e.filing_id "
            "WHERE f.region_code BETWEEN '640425' AND '640425999999' "
            "AND f.state IN ('county_approved', 'paid')")).scalar()
        # Paid: what the bank paid, and the material lists handed out in full (发放完毕), their
        # goods at the unit price.
        direct_paid = db.session.execute(sa.text(
            "SELECT sum(amount) FROM payments WHERE region_code BETWEEN '640425' AND '640425999999' "
            "AND status = 'paid'")).scalar()
        direct_paid += db.session.execute(sa.text(
            "SELECT coalesce(sum(e.amount), 0) FROM filing_entries e JOIN filings f ON f.id = e.filing_id "
            "JOIN projects p ON p.id = f.project_id WHERE f.region_code BETWEEN '640425' AND '640425999999' "
            "AND f.state = 'paid' AND p.category = 'material'")).scalar()
        timings["(entries scan, for comparison)"] = median_time(lambda: db.session.execute(sa.text(
            "SELECT sum(e.amount) FROM filing_entries e JOIN filings f ON f.id = e.filing_id "
            "WHERE f.region_code BETWEEN '640425' AND '640425999999' "
            "AND f.state IN ('county_approved', 'paid')")).scalar(),
            args.runs)
        approved, paid = queries.approved_amounts(code, y, 6)[code], queries.paid_amounts(code, y, 6)[code]
        assert approved == Decimal(str(direct_approved)).quantize(Decimal("0.01")), (approved, direct_approved)
        assert paid == Decimal(str(direct_paid)).quantize(Decimal("0.01")), (paid, direct_paid)
        # The goods: some collected, some not; no store below zero; the stores hand out what the
        # pickups of the county add up to.
        goods = summary["materials"]
        assert 0 < goods["entries_done"] < goods["entries_due"], goods
        stores = materials.stock(code, y)
        assert stores and all(received >= out for received, out in stores.values()), stores
        direct_out = db.session.execute(sa.text(
            "SELECT sum(p.quantity) FROM material_pickups p WHERE p.township_code BETWEEN '640425' AND "
            "'640425999'")).scalar()
        assert sum(out for _r, out in stores.values()) == Decimal(str(direct_out)).quantize(Decimal("0.01"))
        dialect = db.engine.dialect.name

    size = f"{args.households:,} households" if args.households else args.size
    print(f"stats bench: {size} on {dialect}: {made['households']:,} households, {made['entries']:,} entries, "
          f"{made['filings']:,} filings, {made['rows']:,} rows loaded in {load_seconds:.0f} s; "
          f"median of {args.runs} runs, county 640425")
    for label, seconds in timings.items():
        print(f"  {label:<44} {seconds * 1000:9.1f} ms")
    if summary:
        print(f"  summary: filings {summary['filings']}, money {summary['money']}, sms rate "
              f"{summary['sms']['notification_rate']}, mobile {summary['mobile']['coverage_rate']}")
        m = summary["materials"]
        print(f"  materials: {m['entries_done']:,}/{m['entries_due']:,} entries done (rate {m['distribution_rate']}), "
              f"{m['entries_held']} held; " + ", ".join(f"{g['item']} {g['goods_handed_out']}/{g['goods_due']} "
                                                         f"{g['item_unit']}" for g in m["goods"]))


def demo(db, runs: int, started: float) -> None:
    """--size demo: the demo city as `flask demo load` makes it; the city's and its county's
    summary and dashboard, live."""
    from subsidy.common.timeutil import local_today
    from subsidy.demo import load_demo
    from subsidy.households.models import Household

    load_demo()
    db.session.commit()
    load_seconds = time.perf_counter() - started
    y = local_today().year
    timings = {}
    for label, fn in city_checks(db, "640425", y).items():
        timings[label] = median_time(fn, runs)
        db.session.rollback()
    households = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
    print(f"stats bench: the demo city on {db.engine.dialect.name}: {households:,} households loaded in "
          f"{load_seconds:.0f} s; median of {runs} runs")
    for label, seconds in timings.items():
        print(f"  {label:<44} {seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()

"""Benchmark: the city tier at province scale, on an existing (generated) database.

    python bench/bench_city.py --database-url URL [--city 6404] [--year YEAR] [--runs 10]

Nothing is generated: run `bench/generate.py` first (a province of several cities: on
PostgreSQL `bench.run` uses its province of 1,000,000 households, four cities of five counties;
on SQLite a city of five counties of its own). In-process, through the service functions, with
the median and p95 of `--runs` runs each (one untimed warm-up call first):

- the city's `/stats/summary` (its blocks and one per county) and its dashboard (a row per
  county) computed live (refresh=True: never served from the kept summary), as a city
  supervisor's first view after a change; and the same served from the kept summary once
  `flask stats refresh` has run (cron), the refresh itself timed once. Baseline, measured in
  the same run: one bare pass over the city's SMS messages of the year (`count(*)`), the
  largest table its figures read, as `bench_dashboard.py`'s for a county: the ratio says how
  many such passes the live figures cost. Target "< 300 ms" p95, judged at province scale
  (500,000 households or more).

Each figure is recorded for `bench.run` (`bench.report`); nothing is asserted about time.
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

from bench.bench_dashboard import PROVINCE_SCALE, TARGET_MS, p95, timed  # noqa: E402
from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, record  # noqa: E402


def city_figures(db, app, city: str, year: int, runs: int, households: int) -> list[str]:
    """Time the city's summary and dashboard, live and served; record them. Answers the lines
    to print."""
    from subsidy.accounts.models import Role, User
    from subsidy.notify.models import Message
    from subsidy.notify.numbers import year_bounds
    from subsidy.regions.models import Region
    from subsidy.regions.scope import within
    from subsidy.stats import service

    region = db.session.get(Region, city)
    counties = db.session.scalar(sa.select(sa.func.count()).select_from(Region).where(
        sa.func.length(Region.code) == 6, within(Region.code, city)))
    # An unsaved city supervisor: the service checks role and region, and nothing is written.
    supervisor = User(username="bench-city", name="市级监督员", password_hash="x", role=Role.city_supervisor,
                      region_code=city, active=True)
    db.session.expunge_all()
    start, end = year_bounds(year)
    baseline = timed(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        within(Message.region_code, city), Message.created_at >= start, Message.created_at < end)), runs)
    db.session.rollback()
    figures: dict[str, list[float]] = {}

    def measure(key, fn, n=runs):
        figures[key] = timed(fn, n)
        db.session.rollback()  # nothing the live computations keep is committed

    measure("stats_summary_city_p95", lambda: service.summary(supervisor, city, year, refresh=True))
    measure("dashboard_city_p95", lambda: service.dashboard(supervisor, city, year, refresh=True))
    started = time.perf_counter()
    kept = service.refresh_all(year)
    db.session.commit()
    refresh_seconds = time.perf_counter() - started
    measure("stats_summary_city_served_p95", lambda: service.summary(supervisor, city, year), runs * 5)
    measure("dashboard_city_served_p95", lambda: service.dashboard(supervisor, city, year), runs * 5)
    served = service.summary(supervisor, city, year)
    assert served["cached"], "the city was computed live, not served from the kept summary"
    live = service.summary(supervisor, city, year, refresh=True)
    db.session.rollback()
    assert len(live["children"]) == counties, (len(live["children"]), counties)

    base = statistics.median(baseline)
    scale = households >= PROVINCE_SCALE
    name = f"{city} {region.name}" if region is not None else city
    labels = {
        "stats_summary_city_p95": f"/stats/summary, city {name} ({counties} counties), live",
        "dashboard_city_p95": f"dashboard, city {name} ({counties} counties), live",
        "stats_summary_city_served_p95": f"/stats/summary, city {city}, kept summary",
        "dashboard_city_served_p95": f"dashboard, city {city}, kept summary",
    }
    lines = [f"  {'what':<58} {'median':>9} {'p95':>9} {'× baseline':>11}",
             f"  {'baseline: count the city’s SMS of the year':<58} {base:9.1f} {p95(baseline):9.1f}"]
    for key, times in figures.items():
        value, med = p95(times), statistics.median(times)
        lines.append(f"  {labels[key]:<58} {med:9.1f} {value:9.1f} {value / base if base else 0:10.1f}×")
        note = f"median {med:.0f} ms of {len(times)}; {households:,} households, {counties} counties in the city"
        record(Figure(key=key, label=labels[key], value=round(value, 1), unit="ms", target="< 300 ms",
                      met=(value < TARGET_MS) if scale else None, baseline=round(base, 1) if base else None,
                      ratio=round(value / base, 2) if base else None, note=note))
    lines.append(f"  flask stats refresh (every prefecture, county and township): {refresh_seconds:.1f} s for "
                 f"{len(kept)} kept summaries and dashboards")
    lines.append(f"  city summary: filings {live['filings']}, money {live['money']}, "
                 f"sms rate {live['sms']['notification_rate']}, mobile {live['mobile']['coverage_rate']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--city", default="6404")
    parser.add_argument("--year", type=int, help="default: the year of the most filings")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not args.database_url:
        sys.exit("--database-url (or DATABASE_URL) is required: this benchmark reads a generated database")
    runs = max(10, args.runs)

    from subsidy import create_app
    from subsidy.extensions import db
    from subsidy.filings.models import Filing
    from subsidy.households.models import Household
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY,
                      "TESTING": True})
    with app.app_context():
        dialect = db.engine.dialect.name
        households = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
        if not households or db.session.get(Region, args.city) is None:
            sys.exit(f"no households or no city {args.city}: generate a province first (bench/generate.py)")
        year = args.year or db.session.scalar(
            sa.select(Project.year).join(Filing, Filing.project_id == Project.id).group_by(Project.year)
            .order_by(sa.func.count().desc()).limit(1))
        cities = db.session.scalar(sa.select(sa.func.count()).select_from(Region).where(
            sa.func.length(Region.code) == 4))
        print(f"city bench on {dialect}: {households:,} households in {cities} cities, city {args.city}, "
              f"year {year}; {runs} runs each, ms", flush=True)
        for line in city_figures(db, app, args.city, year, runs, households):
            print(line)
        if households < PROVINCE_SCALE:
            print(f"  (fewer than {PROVINCE_SCALE:,} households: not province scale, no target judged)")
        db.engine.dispose()


if __name__ == "__main__":
    main()

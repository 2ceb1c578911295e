"""Benchmark: the dashboard and `/stats/summary` on an existing (generated) database.

    python bench/bench_dashboard.py --database-url URL [--county 640425] [--year YEAR] [--runs 10]

Nothing is generated: run `bench/generate.py` (or `bench/bench_stats.py --size province`) first.
Times, in-process through the stats service (the HTTP p95 is the load test's), with the median
and p95 of `--runs` runs each:

- `/stats/summary` and the dashboard of one county computed live (refresh=True: never served
  from the kept summary), as a county supervisor's first view after a change;
- the province root (the counties sharing the county's first two code digits), and the county
  again, served as the app serves them once `flask stats refresh` has run (cron): from the kept
  summary. The refresh itself is timed once (it recomputes everything; it is not incremental).

Baseline, measured in the same run: one bare pass over the county's SMS messages of the year
(`count(*)`), the largest table a county's figures read; the ratio says how many such passes the
live figures cost. Each p95 is recorded for `bench.run` against the target "< 300 ms"; the target
is stated at province scale, so a database of fewer than 500,000 households judges nothing.
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

from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, record  # noqa: E402

TARGET_MS = 300.0
PROVINCE_SCALE = 500_000


def timed(fn, runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls (one untimed warm-up call first)."""
    fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 95 // 100) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required=False)
    parser.add_argument("--county", help="default: 640425 if present, else the county with the most households")
    parser.add_argument("--year", type=int, help="default: the year of the most filings")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-refresh", action="store_true",
                        help="reuse the summaries an earlier refresh kept, if still fresh (else refresh anyway)")
    args = parser.parse_args()
    if not args.database_url:
        sys.exit("--database-url (or DATABASE_URL) is required: this benchmark reads a generated database")
    runs = max(10, args.runs)

    from subsidy import create_app
    from subsidy.accounts.models import Role, User
    from subsidy.extensions import db
    from subsidy.filings.models import Filing
    from subsidy.households.models import Household
    from subsidy.notify.models import Message
    from subsidy.notify.numbers import year_bounds
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region
    from subsidy.regions.scope import within
    from subsidy.stats import service
    from subsidy.stats.models import StatsCache

    app = create_app({"DATABASE_URL": args.database_url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY,
                      "TESTING": True})
    with app.app_context():
        dialect = db.engine.dialect.name
        households = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
        if not households:
            sys.exit("the database holds no households: generate one first (bench/generate.py)")
        county = args.county or ("640425" if db.session.get(Region, "640425") is not None else db.session.scalar(
            sa.select(sa.func.substr(Household.region_code, 1, 6)).group_by(sa.func.substr(Household.region_code, 1, 6))
            .order_by(sa.func.count().desc()).limit(1)))
        year = args.year or db.session.scalar(
            sa.select(Project.year).join(Filing, Filing.project_id == Project.id).group_by(Project.year)
            .order_by(sa.func.count().desc()).limit(1))
        root = county[:2]
        county_households = db.session.scalar(sa.select(sa.func.count()).select_from(Household).where(
            within(Household.region_code, county)))
        counties = db.session.scalar(sa.select(sa.func.count()).select_from(Region).where(
            sa.func.length(Region.code) == 6, within(Region.code, root)))
        # An unsaved county supervisor: the service checks role and region, and nothing is written.
        supervisor = User(username="bench-dashboard", name="监督员", password_hash="x", role=Role.supervisor,
                          region_code=county, active=True)
        db.session.expunge_all()

        start, end = year_bounds(year)
        baseline = timed(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
            within(Message.region_code, county), Message.created_at >= start, Message.created_at < end)), runs)
        db.session.rollback()

        figures = {}

        def measure(key, fn, n=runs):
            times = timed(fn, n)
            db.session.rollback()  # nothing the live computations keep is committed
            figures[key] = times

        measure("stats_summary_p95", lambda: service.summary(supervisor, county, year, refresh=True))
        measure("dashboard_p95", lambda: service.dashboard(supervisor, county, year, refresh=True))

        kept = db.session.get(StatsCache, ("summary", root, year))
        fresh = kept is not None and (time.time() - kept.computed_at.timestamp()) < float(
            app.config.get("STATS_CACHE_SECONDS", 600)) - 60
        refresh_seconds = None
        if not args.no_refresh or not fresh:
            started = time.perf_counter()
            kept_rows = service.refresh_all(year)
            db.session.commit()
            refresh_seconds = time.perf_counter() - started
        # The province's row where the data has one (the generator's 64), else a root of counties.
        province = db.session.get(Region, root) or Region(code=root, name=service.PROVINCE_NAME)
        # Served from the kept summary these take milliseconds: more runs, so that p95 is not the maximum.
        measure("stats_summary_county_served_p95", lambda: service.summary(supervisor, county, year), runs * 5)
        measure("dashboard_county_served_p95", lambda: service.dashboard(supervisor, county, year), runs * 5)
        measure("stats_summary_province_p95", lambda: service.summary_of(root, year), runs * 5)
        measure("dashboard_province_p95", lambda: service.dashboard_of(province, year), runs * 5)
        served = service.summary_of(root, year)
        assert served["cached"], "the province root was computed live, not served from the kept summary"
        kept_county = service.summary(supervisor, county, year)
        live_county = service.summary(supervisor, county, year, refresh=True)
        db.session.rollback()
        same = {k: v for k, v in kept_county.items() if k not in ("as_of", "cached")} == \
            {k: v for k, v in live_county.items() if k not in ("as_of", "cached")}

    base = statistics.median(baseline)
    scale = households >= PROVINCE_SCALE
    print(f"dashboard bench on {dialect}: {households:,} households ({county_households:,} in county {county}), "
          f"{counties} counties under root {root}, year {year}; {runs} runs each, ms")
    print(f"  {'what':<46} {'median':>9} {'p95':>9} {'× baseline':>11}")
    print(f"  {'baseline: count the county’s SMS of the year':<46} {base:9.1f} {p95(baseline):9.1f}")
    labels = {
        "stats_summary_p95": f"/stats/summary, county {county}, live",
        "dashboard_p95": f"dashboard, county {county}, live",
        "stats_summary_province_p95": f"/stats/summary, province root {root}, kept summary",
        "dashboard_province_p95": f"dashboard, province root {root}, kept summary",
        "stats_summary_county_served_p95": f"/stats/summary, county {county}, kept summary",
        "dashboard_county_served_p95": f"dashboard, county {county}, kept summary",
    }
    for key, times in figures.items():
        value, med = p95(times), statistics.median(times)
        print(f"  {labels[key]:<46} {med:9.1f} {value:9.1f} {value / base if base else 0:10.1f}×")
        note = f"median {med:.0f} ms of {len(times)}; {households:,} households"
        live = key in ("stats_summary_p95", "dashboard_p95")
        if not live:
            note += f"; refresh of {counties} counties " + (
                f"{refresh_seconds:.1f} s" if refresh_seconds else "earlier")
        record(Figure(key=key, label=labels[key], value=round(value, 1), unit="ms", target="< 300 ms",
                      met=(value < TARGET_MS) if scale else None, baseline=round(base, 1) if live else None,
                      ratio=round(value / base, 2) if live and base else None, note=note))
    if refresh_seconds is not None:
        print(f"  flask stats refresh (set-based, not incremental): {refresh_seconds:.1f} s for "
              f"{len(kept_rows)} kept summaries and dashboards")
        record(Figure(key="stats_refresh", label=f"flask stats refresh, root {root} ({counties} counties)",
                      value=round(refresh_seconds, 1), unit="s", target="(cron, every few minutes)", met=None,
                      note=f"{len(kept_rows)} summaries and dashboards kept; recomputes everything"))
    print(f"  county summary: filings {live_county['filings']}, money {live_county['money']}, "
          f"sms rate {live_county['sms']['notification_rate']}, mobile {live_county['mobile']['coverage_rate']}")
    if not same:  # only `overdue_open` may move between the two, as time passes
        print("  NOTE: the county's kept summary differs from its live one")
    if not scale:
        print(f"  (fewer than {PROVINCE_SCALE:,} households: not province scale, no target judged)")


if __name__ == "__main__":
    main()

"""`make bench`: every benchmark on SQLite and on PostgreSQL, then one table.

    python -m bench.run                       # full sizes (a province of 1,000,000 households on PostgreSQL)
    python -m bench.run --small               # the sizes CI runs (so the benchmarks cannot rot)
    python -m bench.run --only sqlite         # one database
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python -m bench.run

Each benchmark runs in its own process, prints its own detail and records the figures of the
target table through `bench.report`; this runner prints them together: each figure, its
baseline measured in the same run, the ratio and the target. Times are medians of several runs
(the machine is noisy; the ratios are what count). Nothing here asserts a time: `met` is shown,
and a "small" run judges nothing (its sizes are too small for the targets to mean anything).

The PostgreSQL database's schema is dropped and recreated: point it at a scratch database.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.report import DATABASE_ENV, REPORT_ENV, Figure, read  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# The rows of the target table, in its order: key → what the figure is.
TARGETS = [
    ("household_import", "household import ÷ bare read of the same file"),
    ("household_import_memory", "household import, peak memory"),
    ("household_import_rows", "rows written during import ÷ driver executemany"),
    ("household_export", "register export ÷ bare write-only loop"),
    ("farmer_my_subsidies", "farmer “my subsidies” rps ÷ trivial endpoint"),
    ("farmer_my_subsidies_p95", "farmer “my subsidies” p95 at 50 clients"),
    ("review_queue_p95", "reviewer queue page p95"),
    ("review_page_p95", "review page of a 5,000-entry filing p95"),
    ("county_approval", "county approval of a 5,000-entry filing"),
    ("dashboard_p95", "dashboard p95"),
    ("stats_summary_p95", "/stats/summary p95"),
    ("dashboard_city_p95", "city dashboard p95, live"),
    ("stats_summary_city_p95", "city /stats/summary p95, live"),
    ("dashboard_city_served_p95", "city dashboard p95, kept summary"),
    ("sms_worker", "SMS worker ÷ bare client loop"),
    ("sqlite_locked", "SQLite 50 clients 90/10: “database is locked”"),
]


def sizes(small: bool) -> dict:
    if small:
        return dict(households=2_000, filing=300, sms=500, county=1_500, province=3_000, big_filing=300,
                    duration=2, lock_duration=5, runs=2, city=3_000, county_households=500)
    return dict(households=100_000, filing=5_000, sms=10_000, county=50_000, province=1_000_000,
                big_filing=5_000, duration=20, lock_duration=60, runs=3, city=250_000, county_households=50_000)


def steps(s: dict, database: str, url: str, workdir: Path):
    """(title, argv, extra env) for one database. SQLite runs in fresh files under `workdir`."""
    pg = database == "postgresql"
    db_args = (lambda name: ["--database-url", url, "--reset"]) if pg else \
        (lambda name: ["--database-url", f"sqlite:///{workdir}/{name}.sqlite3"])
    runs = ["--runs", str(s["runs"])]
    yield "households", ["bench_households.py", str(s["households"]), *runs, *db_args("households")], {}
    filings_env = {"DATABASE_URL": url if pg else f"sqlite:///{workdir}/filings.sqlite3"}
    yield "filings", ["bench_filings.py", "--households", str(s["filing"]), "--repeat", str(min(3, s["runs"])),
                      "--fresh"], filings_env
    yield "sms", ["bench_sms.py", str(s["sms"]), *runs, *db_args("sms")], {}
    # The load tests and the dashboard run on one generated region: on PostgreSQL the province
    # (the dashboard target is stated for it), on SQLite a county (one file, one machine).
    households = s["province"] if pg else s["county"]
    target = url if pg else f"sqlite:///{workdir}/load.sqlite3"
    # A province of several cities on PostgreSQL (counties of `county_households`).
    per_county = ["--county-households", str(s["county_households"])] if pg else []
    yield "generate", ["generate.py", "--households", str(households), "--big-filing", str(s["big_filing"]),
                       "--database-url", target, *per_county, *(["--reset"] if pg else [])], {}
    yield "dashboard", ["bench_dashboard.py", "--database-url", target, "--runs", str(max(10, s["runs"]))], {}
    yield "load", ["load.py", "--database-url", target, "--no-generate", "--duration", str(s["duration"]),
                   "--lock-duration", str(s["lock_duration"]), *(["--small"] if s["duration"] < 5 else [])], {}
    # The city tier: on PostgreSQL the province's first city; on SQLite a city of five counties
    # of its own (the load test's county stays the size it was).
    city_target = target
    if not pg:
        city_target = f"sqlite:///{workdir}/city.sqlite3"
        yield "generate city", ["generate.py", "--households", str(s["city"]), "--county-households",
                                str(s["city"] // 5), "--big-filing", str(s["big_filing"]), "--database-url",
                                city_target], {}
    yield "city", ["bench_city.py", "--database-url", city_target, "--runs", str(max(10, s["runs"]))], {}


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if unit in ("s",) and value < 1:
        return f"{value * 1000:,.0f} ms"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def table(figures: list[Figure], small: bool) -> str:
    order = {key: i for i, (key, _) in enumerate(TARGETS)}
    figures = sorted(figures, key=lambda f: (order.get(f.key, len(order)), f.database))
    header = ("figure", "database", "value", "baseline", "ratio", "target", "met", "note")
    rows = [header]
    for f in figures:
        met = "—" if small or f.met is None else ("yes" if f.met else "NO")
        rows.append((f.label, f.database, fmt(f.value, f.unit), fmt(f.baseline, f.unit),
                     "" if f.ratio is None else f"×{f.ratio:.2f}", f.target, met, f.note))
    seen = {f.key for f in figures}
    for key, label in TARGETS:
        if key not in seen:
            rows.append((label, "", "not measured", "", "", "", "", ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI sizes; judges no target")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--no-postgres", action="store_true", help="same as --only sqlite")
    parser.add_argument("--report", help="keep the JSON-lines records here (default: a temporary file)")
    args = parser.parse_args(argv)
    pg_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)
    databases = ["sqlite", "postgresql"]
    if args.no_postgres or args.only == "sqlite":
        databases = ["sqlite"]
    elif args.only == "postgresql":
        databases = ["postgresql"]
    s = sizes(args.small)
    workdir = Path(tempfile.mkdtemp(prefix="bench_run_"))
    report = args.report or str(workdir / "figures.jsonl")
    Path(report).write_text("")  # this run's figures only, not an earlier run's into the same file
    failed = []
    started = time.perf_counter()
    for database in databases:
        label = "SQLite" if database == "sqlite" else "PostgreSQL"
        for title, argv_, env in steps(s, database, pg_url, workdir):
            print(f"\n=== {title} ({label})", flush=True)
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, str(HERE / argv_[0]), *argv_[1:]], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT), REPORT_ENV: report,
                                       DATABASE_ENV: label, **env})
            print(f"--- {title} ({label}): {time.perf_counter() - t0:.0f} s, exit {done.returncode}", flush=True)
            if done.returncode:
                failed.append(f"{title} ({label})")
    print(f"\n=== targets ({'small sizes: CI smoke run, no target judged' if args.small else 'full sizes'}; "
          f"{time.perf_counter() - started:.0f} s in all)")
    print(table(read(report), args.small))
    if failed:
        print("\nfailed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

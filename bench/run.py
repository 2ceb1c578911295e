"""`make bench`: run every benchmark under bench/ on SQLite and then on PostgreSQL.

Each benchmark prints its own figures (and, where it has one, its baseline measured in the
same run and the ratio). One combined table with the targets of issue 8 is still to come.

    python -m bench.run                 # default sizes
    python -m bench.run --small         # the sizes CI can afford
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python -m bench.run

The PostgreSQL database's schema is dropped and recreated: point it at a scratch database."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def runs(small: bool, pg_url: str | None):
    sizes = {"households": "2000" if small else "10000", "sms": "2000" if small else "50000",
             "filings": "500" if small else "5000"}
    yield "households (SQLite)", ["bench_households.py", sizes["households"]], {}
    yield "filings (SQLite)", ["bench_filings.py", "--households", sizes["filings"]], {}
    yield "sms (SQLite)", ["bench_sms.py", sizes["sms"]], {}
    if not small:
        yield "stats (SQLite)", ["bench_stats.py", "--runs", "3"], {}
    if pg_url:
        yield "households (PostgreSQL)", ["bench_households.py", sizes["households"], "--database-url", pg_url, "--reset"], {}
        yield "filings (PostgreSQL)", ["bench_filings.py", "--households", sizes["filings"], "--fresh"], {"DATABASE_URL": pg_url}
        yield "sms (PostgreSQL)", ["bench_sms.py", sizes["sms"], "--database-url", pg_url, "--reset"], {}
        if not small:
            yield "stats (PostgreSQL)", ["bench_stats.py", "--database-url", pg_url, "--reset"], {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    pg_url = None if args.no_postgres else os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)
    failed = []
    for title, argv, env in runs(args.small, pg_url):
        print(f"\n=== {title}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]],
                              env={**os.environ, "PYTHONPATH": str(HERE.parent), **env})
        if done.returncode:
            failed.append(title)
    if failed:
        print("\nfailed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

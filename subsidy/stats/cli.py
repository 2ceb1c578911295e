"""`flask stats refresh`: recompute the kept summaries (for cron; see subsidy.stats.cache)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from subsidy.common.timeutil import local_today

stats_cli = AppGroup("stats", help="Supervision figures.")


@stats_cli.command("refresh")
@click.option("--year", type=int, default=None, help="default: this year")
def refresh(year):
    """Recompute the summary and dashboard of every prefecture, county and township, and of the province,
    and keep them.
    A busy or unreachable database is waited out (JOB_RETRY_*, up to JOB_GIVE_UP_SECONDS)."""
    import time

    from subsidy.common.jobs import run_cron_job
    from subsidy.stats.service import refresh_all

    started = time.perf_counter()
    # read, then write and commit: run again whole after a database error
    kept = run_cron_job(lambda: refresh_all(year or local_today().year), "stats refresh")
    regions = len({code for _kind, code in kept if len(code) >= 6})
    cities = sorted({code for _kind, code in kept if len(code) == 4})
    roots = sorted({code for _kind, code in kept if len(code) == 2})
    click.echo(f"refreshed {regions} regions"
               + (f", the prefecture{'s' if len(cities) > 1 else ''} {', '.join(cities)}" if cities else "")
               + (f" and the province root {', '.join(roots)}" if roots else "")
               + f" in {time.perf_counter() - started:.1f} s")

"""`flask stats refresh`: recompute the kept summaries (for cron; see subsidy.stats.cache)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from subsidy.common.timeutil import local_today
from subsidy.extensions import db

stats_cli = AppGroup("stats", help="Supervision figures.")


@stats_cli.command("refresh")
@click.option("--year", type=int, default=None, help="default: this year")
def refresh(year):
    """Recompute the summary and dashboard of every county and township, and of the province, and keep them."""
    import time

    from subsidy.stats.service import refresh_all

    started = time.perf_counter()
    kept = refresh_all(year or local_today().year)
    db.session.commit()
    regions = len({code for _kind, code in kept if len(code) >= 6})
    roots = sorted({code for _kind, code in kept if len(code) < 6})
    click.echo(f"refreshed {regions} regions" + (f" and the province root {', '.join(roots)}" if roots else "")
               + f" in {time.perf_counter() - started:.1f} s")

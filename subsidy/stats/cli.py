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
    """Recompute the summary and dashboard of every county and township and keep them."""
    from subsidy.stats.service import refresh_all

    done = refresh_all(year or local_today().year)
    db.session.commit()
    slowest = max(done, key=lambda d: d[1]) if done else None
    click.echo(f"refreshed {len(done)} regions" + (f"; slowest {slowest[0]} {slowest[1]:.2f} s" if slowest else ""))

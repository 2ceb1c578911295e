"""`flask materials …` (docs/operations.md "Command line")."""
from __future__ import annotations

import click
from flask.cli import AppGroup

materials_cli = AppGroup("materials", help="Material subsidies (实物补贴).")


@materials_cli.command("remind")
@click.option("--days", type=int, default=None, help="days before a list closes (default MATERIAL_REMINDER_DAYS)")
def remind(days):
    """Remind by SMS the households still owed goods on a list that closes within the days.
    Idempotent: run it daily from cron; a household is reminded once per closing day."""
    from subsidy.common.jobs import run_cron_job
    from subsidy.materials.lists import send_reminders

    result = run_cron_job(lambda: send_reminders(days=days), "materials remind")
    click.echo(f"lists: {result['lists']}, SMS owed: {result['sms']}")

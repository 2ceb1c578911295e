"""`flask materials …` (docs/operations.md "Command line")."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from subsidy.extensions import db

materials_cli = AppGroup("materials", help="Material subsidies (实物补贴).")


@materials_cli.command("remind")
@click.option("--days", type=int, default=None, help="days before a list closes (default MATERIAL_REMINDER_DAYS)")
def remind(days):
    """Remind by SMS the households still owed goods on a list that closes within the days.
    Idempotent: run it daily from cron; a household is reminded once per closing day."""
    from flask import current_app

    from subsidy.common.jobs import Retry
    from subsidy.materials.lists import send_reminders

    def once():
        result = send_reminders(days=days)
        db.session.commit()
        return result

    try:
        result = Retry.from_config(current_app.config, give_up=True).call(once, "materials remind")
    except Exception as exc:  # a cron job must say what went wrong and exit non-zero
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"lists: {result['lists']}, SMS owed: {result['sms']}")

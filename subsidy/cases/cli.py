"""`flask cases …` (API.md "Command line")."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from subsidy.extensions import db

cases_cli = AppGroup("cases", help="Inquiries, complaints and objections.")


@cases_cli.command("escalate")
def escalate():
    """Mark and escalate overdue cases, remind their units, close replies unrated for 7 days.
    Idempotent: run it from cron as often as you like; a case is escalated once per deadline.
    A busy or unreachable database is waited out (JOB_RETRY_*, up to JOB_GIVE_UP_SECONDS)."""
    from flask import current_app

    from subsidy.cases.escalation import run_escalation
    from subsidy.common.jobs import Retry

    def once():  # one transaction: run again whole after a database error (it is idempotent)
        result = run_escalation()
        db.session.commit()
        return result

    try:
        result = Retry.from_config(current_app.config, give_up=True).call(once, "cases escalate")
    except Exception as exc:  # a cron job must say what went wrong and exit non-zero
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(str(result))


@cases_cli.command("recompute-deadlines")
@click.argument("county_code", required=False)
def recompute(county_code):
    """Recompute deadlines: a county's open and provisional ones (after a calendar change made
    outside the app), or without COUNTY_CODE every county's provisional ones."""
    from subsidy.cases.admin import recompute_deadlines, recompute_provisional_deadlines

    results = ({county_code[:6]: recompute_deadlines(county_code)} if county_code
               else recompute_provisional_deadlines())
    db.session.commit()
    for county, result in results.items():
        click.echo(f"{county}: changed {result.changed}, unchanged {result.unchanged}, "
                   f"still provisional {result.provisional}")
    if not results:
        click.echo("no provisional deadlines")

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
    Idempotent: run it from cron as often as you like; a case is escalated once per deadline."""
    from subsidy.cases.escalation import run_escalation

    try:
        result = run_escalation()
        db.session.commit()
    except Exception as exc:  # a cron job must say what went wrong and exit non-zero
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(str(result))


@cases_cli.command("recompute-deadlines")
@click.argument("county_code")
def recompute(county_code):
    """Recompute the deadlines of a county's open cases (after a calendar change made outside the app)."""
    from subsidy.cases.admin import recompute_open_deadlines

    result = recompute_open_deadlines(county_code)
    db.session.commit()
    click.echo(f"changed {result.changed}, unchanged {result.unchanged}"
               + (f", years not covered: {result.uncovered}" if result.uncovered else ""))

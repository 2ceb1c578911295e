"""`flask cases …` (docs/operations.md "Command line")."""
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
    from subsidy.cases.escalation import run_escalation
    from subsidy.common.jobs import run_cron_job

    # one transaction: run again whole after a database error (it is idempotent)
    result = run_cron_job(run_escalation, "cases escalate")
    click.echo(str(result))


@cases_cli.command("recompute-deadlines")
@click.argument("county_code", required=False)
def recompute(county_code):
    """Recompute deadlines: a county's open and provisional ones (after a calendar change made
    outside the app), or without COUNTY_CODE every county's provisional ones."""
    from subsidy.cases.deadlines import recompute_deadlines, recompute_provisional_deadlines

    results = ({county_code[:6]: recompute_deadlines(county_code)} if county_code
               else recompute_provisional_deadlines())
    db.session.commit()
    for county, result in results.items():
        click.echo(f"{county}: changed {result.changed}, unchanged {result.unchanged}, "
                   f"still provisional {result.provisional}")
    if not results:
        click.echo("no provisional deadlines")


@cases_cli.command("calendar-template")
@click.argument("year", type=int)
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def calendar_template(year: int, path: str):
    """Write the .xlsx to fill in for YEAR's calendar, pre-filled with its statutory holidays."""
    import shutil

    from subsidy.cases.deadlines import calendar_template as template

    book, _name = template(None, year)
    with open(path, "wb") as out:
        shutil.copyfileobj(book, out)
    click.echo(f"wrote {path}: add the 调休 make-up working days from the State Council's notice, then "
               f"`flask cases calendar-import COUNTY {year} {path}`")


@cases_cli.command("calendar-import")
@click.argument("county_code")
@click.argument("year", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def calendar_import(county_code: str, year: int, path: str):
    """Load YEAR's calendar (.xlsx: 日期, 类型, 说明) for a county, as the calendar page does: the
    year's overrides replaced, the year marked complete, deadlines recomputed. Any bad row: nothing."""
    from subsidy.cases.deadlines import import_calendar
    from subsidy.errors import DomainError

    try:
        with open(path, "rb") as fh:
            result = import_calendar(None, fh, path, year, county_code=county_code)
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        click.echo(f"error: {exc.message}" + (f" ({details})" if details else ""), err=True)
        sys.exit(1)
    if not result.ok:
        db.session.rollback()
        for e in result.errors.sorted():
            click.echo(f"row {e['row']} {e['field']}: {e['message']}", err=True)
        click.echo(f"error: {result.errors.total} bad row(s), nothing imported", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{county_code[:6]} {year}: {result.restdays} rest day(s), {result.workdays} make-up working day(s); "
               f"{result.recomputed.changed} deadline(s) recomputed")

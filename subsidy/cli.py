"""Command-line interface (docs/operations.md "Command line"). `db upgrade` comes from Flask-Migrate."""
from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from subsidy.extensions import db

users_cli = AppGroup("users", help="Staff accounts.")
audit_cli = AppGroup("audit", help="The audit chain.")
demo_cli = AppGroup("demo", help="The demo city and its counties.")
docs_cli = AppGroup("docs", help="The documents written from the code.")


def _fail(message: str, code: int = 1):
    click.echo(message, err=True)
    sys.exit(code)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True,
              help="village_clerk, township_reviewer, county_reviewer, county_admin, supervisor")
@click.option("--region", "region_code", required=True, help="region code (2, 4, 6, 9 or 12 digits)")
@click.option("--password", required=True)
@click.option("--name", default="")
def users_create(username, role, region_code, password, name):
    """Create a staff user."""
    from subsidy.accounts.service import create_user
    from subsidy.errors import DomainError

    try:
        user = create_user(None, username=username, password=password, name=name, role=role, region_code=region_code)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        _fail(f"error: {exc.message}" + (f" ({details})" if details else ""), 1)
    click.echo(f"created user {user.username} ({user.role.value} @ {user.region_code})")


@audit_cli.command("verify")
@click.option("--checkpoint", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="a checkpoint file a supervisor kept (besides those in AUDIT_CHECKPOINT_DIR)")
@click.option("--code", "codes", multiple=True, metavar="LAST_ID:CODE",
              help="a checkpoint received by SMS: the last event's id and the 12-character code")
def audit_verify(files, codes):
    """Exit 0 if the audit chain is intact and agrees with every checkpoint, else 1 and print
    the first broken event's id (or the checkpoint that disagrees)."""
    from pathlib import Path

    from subsidy.audit import checkpoints
    from subsidy.audit.models import AuditEvent

    extra = [(f, checkpoints.Checkpoint.from_json(Path(f).read_text(encoding="utf-8"))) for f in files]
    outcome = checkpoints.verify_all(extra)
    result = outcome.chain
    broken = False
    if not result.ok:
        click.echo(f"audit chain broken at event {result.broken_id}: {result.reason}", err=True)
        click.echo(str(result.broken_id))
        broken = True
    for problem in outcome.problems:
        click.echo(f"checkpoint {problem.name}: {problem.reason}", err=True)
        broken = True
    for code in codes:
        last_id, _, short = code.partition(":")
        head = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.id == int(last_id))) \
            if last_id.isdigit() else None
        if head is None or not head.startswith(short.strip().lower()) or len(short.strip()) < 8:
            click.echo(f"checkpoint code {code}: event {last_id} is gone or has another hash", err=True)
            broken = True
    if broken:
        sys.exit(1)
    click.echo(f"audit chain intact: {result.checked} events, {outcome.checkpoints + len(codes)} checkpoint(s) agree")


@audit_cli.command("checkpoint")
def audit_checkpoint():
    """Write today's signed checkpoint of the chain outside the database (cron, daily) and
    send its short code to the county supervisors."""
    from subsidy.audit import checkpoints

    point, path = checkpoints.write_daily()
    db.session.commit()
    click.echo(f"checkpoint {path}: {point.count} events, last {point.last_id}, code {point.short_code}")


@demo_cli.command("load")
@click.option("--households-per-village", default=50, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="do nothing if the database already holds any region")
def demo_load(households_per_village, if_empty):
    """Load the demo city 固原市 (6404) with its county 彭阳县 (640425) in full. Idempotent."""
    from subsidy.demo import load_demo
    from subsidy.regions.models import Region

    if if_empty and db.session.scalar(db.select(db.func.count()).select_from(Region)):
        click.echo("database already holds regions: demo not loaded")
        return
    summary = load_demo(households_per_village=households_per_village)
    db.session.commit()
    click.echo(summary)


@demo_cli.command("logins")
def demo_logins():
    """Print the demo sign-ins."""
    from subsidy.demo import demo_logins as logins

    base = "http://127.0.0.1:5000"
    click.echo(f"\n惠农资金监管平台 demo: {base}/login   (farmers: {base}/m/)")
    for username, password, role in logins():
        click.echo(f"  {username:<16} {password:<10} {role}")
    click.echo("")


@docs_cli.command("tables")
@click.option("--check", is_flag=True, help="exit 1 if docs/tables.md differs from the code, writing nothing")
def docs_tables(check):
    """Write docs/tables.md: the state machines and the role → permission table."""
    from pathlib import Path

    from flask import current_app

    from subsidy.common.docs import render

    path = Path(current_app.root_path).parent / "docs" / "tables.md"
    text = render()
    if check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _fail(f"{path} is out of date: run `flask docs tables`")
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


def register_cli(app):
    app.cli.add_command(users_cli)
    app.cli.add_command(docs_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_cli)
    from subsidy.materials.cli import materials_cli

    app.cli.add_command(materials_cli)
    from subsidy.cases.cli import cases_cli

    app.cli.add_command(cases_cli)
    from subsidy.notify.cli import sms_cli

    app.cli.add_command(sms_cli)
    from subsidy.stats.cli import stats_cli

    app.cli.add_command(stats_cli)
    from subsidy.filings.cli import filings_cli

    app.cli.add_command(filings_cli)

"""`flask sms …` (docs/operations.md "Command line"): the worker and a test message from the shell."""
from __future__ import annotations

import signal
import sys

import click
from flask.cli import AppGroup

from subsidy.extensions import db

sms_cli = AppGroup("sms", help="SMS notifications: the sending worker, test messages.")


@sms_cli.command("worker")
@click.option("--once", is_flag=True, help="One pass over what is due now, then exit (cron, tests).")
@click.option("--batch-size", type=int, default=None, help="Messages claimed per transaction (SMS_BATCH_SIZE).")
def worker(once: bool, batch_size: int | None):
    """Send due SMS. Several workers may run side by side on PostgreSQL; on SQLite run one."""
    from subsidy.notify.worker import Worker

    try:
        w = Worker(batch_size=batch_size)
    except RuntimeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)

    def stop(signum, frame):
        # Finish the message in flight, hand the rest of the batch back, exit.
        w.stopping = True

    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop)
    except ValueError:  # not the main thread (embedded use): no signal handling
        pass
    try:
        click.echo(f"sms worker {w.owner} ({w.gateway.name})", err=True)
        if once:
            click.echo(str(w.run_once()))
            return
        w.run_forever(on_pass=lambda stats: click.echo(str(stats), err=True))
        click.echo("sms worker stopped", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@sms_cli.command("send")
@click.argument("phone")
@click.argument("text")
@click.option("--region", "region_code", default=None, help="region code (default: the household's, else the county)")
def send(phone: str, text: str, region_code: str | None):
    """Enqueue one test message to PHONE (sent by the worker)."""
    from subsidy.errors import DomainError
    from subsidy.notify.service import send_test

    try:
        message = send_test(phone, text, region_code)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        click.echo(f"error: {exc.message}" + (f" ({details})" if details else ""), err=True)
        sys.exit(1)
    click.echo(f"queued message {message.id} to {message.to_phone} ({message.segments} segment(s)): {message.body}")

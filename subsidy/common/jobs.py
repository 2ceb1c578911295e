"""Background work that outlives a database that goes away for a while: the SMS worker, the
nightly escalation, the stats refresh.

SQLite answers "database is locked" when another process holds the write lock past the busy
timeout; PostgreSQL drops connections (an administrator's pg_terminate_backend, a failover, a
restart: refused while it is down). None of that is the job's fault, and none of it should end
a worker that must keep sending, or a cron job that can simply try again. `Retry.call` runs one
unit of work (a whole transaction: it must be safe to run again, which each caller's unit is),
and on such an error rolls the session back, logs, waits (exponential backoff with a cap and
jitter, so that several workers do not come back in step) and runs it again; anything else is
raised at once. A worker retries for as long as it takes; a one-shot command gives up after
JOB_GIVE_UP_SECONDS so that cron can report it.
"""
from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

log = logging.getLogger("subsidy.jobs")

# SQLite's answers that mean "someone else holds the lock", not "your SQL is wrong" (which is
# the same exception class: sqlite3.OperationalError).
_SQLITE_BUSY = ("database is locked", "database table is locked", "database schema is locked", "database is busy")
# PostgreSQL: serialization failure, deadlock, too many connections, admin/crash shutdown,
# cannot connect now (starting up); class 08 (connection exceptions) is checked apart.
_PG_TRANSIENT = {"40001", "40P01", "53300", "57P01", "57P02", "57P03"}


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` says the database is busy or unreachable (try again later), rather than
    that the work is wrong (raise)."""
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
    else:
        orig = exc
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig)
        return any(busy in text for busy in _SQLITE_BUSY)
    state = getattr(orig, "sqlstate", None)
    if state:
        return state.startswith("08") or state in _PG_TRANSIENT
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    # Without an SQLSTATE: the connection could not be made, or broke under us.
    return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))


class Stopped(Exception):
    """A retry given up because the job was told to stop (the database error is its cause)."""


def describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"


def _reset_session() -> None:
    """End the failed transaction so that the next attempt starts clean; a session whose
    connection is gone may fail even that, and is then closed (a fresh one is made on use)."""
    from subsidy.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be dead: drop it
        try:
            db.session.close()
        except Exception:  # noqa: BLE001
            log.debug("closing the session after a database error failed too", exc_info=True)


@dataclass
class Retry:
    """Retry a unit of work on transient database errors: the n-th wait is drawn between half
    and all of min(cap, base × 2^(n-1)) seconds."""

    base: float = 0.5
    cap: float = 30.0
    give_up_after: float | None = None  # seconds from the first failure; None: never
    should_stop: Callable[[], bool] = lambda: False  # a worker told to stop waits no longer
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    logger: logging.Logger = log
    retries: int = 0  # waits so far, over every call (for the worker's figures and the tests)

    @classmethod
    def from_config(cls, config, *, give_up: bool, **kwargs) -> Retry:
        """JOB_RETRY_BASE_SECONDS, JOB_RETRY_MAX_SECONDS and, for a one-shot job (`give_up`),
        JOB_GIVE_UP_SECONDS (0: never)."""
        limit = float(config.get("JOB_GIVE_UP_SECONDS", 0)) if give_up else 0
        return cls(base=float(config.get("JOB_RETRY_BASE_SECONDS", 0.5)),
                   cap=float(config.get("JOB_RETRY_MAX_SECONDS", 30.0)), give_up_after=limit or None, **kwargs)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    def call(self, work: Callable[[], object], what: str, stoppable: bool = True):
        """`work()`, run again after each transient database error; its result. A job told to
        stop waits no longer (Stopped), unless the work is not `stoppable` (what must not be
        lost: the worker's record of messages it has sent)."""
        attempt, first_failure = 0, None
        while True:
            try:
                result = work()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                _reset_session()
                attempt += 1
                now = time.monotonic()
                first_failure = first_failure or now
                if stoppable and self.should_stop():
                    self.logger.warning("%s: %s; stopping, not retried", what, describe(exc))
                    raise Stopped(what) from exc
                if self.give_up_after is not None and now - first_failure >= self.give_up_after:
                    self.logger.error("%s: %s; giving up after %d attempts in %.0f s", what, describe(exc), attempt,
                                      now - first_failure)
                    raise
                wait = self.delay(attempt)
                self.retries += 1
                self.logger.warning("%s: database unavailable (%s); attempt %d failed, retrying in %.1f s", what,
                                    describe(exc), attempt, wait)
                self._wait(wait, stoppable)
                continue
            if attempt:
                self.logger.warning("%s: database back after %d failed attempt(s) in %.1f s", what, attempt,
                                    time.monotonic() - first_failure)
            return result

    def _wait(self, seconds: float, stoppable: bool = True) -> None:
        end = time.monotonic() + seconds
        while not (stoppable and self.should_stop()):
            left = end - time.monotonic()
            if left <= 0:
                return
            self.sleep(min(0.2, left))


def run_cron_job(work: Callable[[], object], what: str):
    """A one-shot command run from cron (`cases escalate`, `stats refresh`, `materials remind`):
    `work()` then the commit, run again whole after a transient database error (it must be
    idempotent) until JOB_GIVE_UP_SECONDS; any failure is said on stderr and exits 1, which is
    what reaches cron's mail or the log. Returns what `work()` returned."""
    import sys

    import click
    from flask import current_app

    from subsidy.extensions import db

    def once():
        result = work()
        db.session.commit()
        return result

    try:
        return Retry.from_config(current_app.config, give_up=True).call(once, what)
    except Exception as exc:  # a cron job must say what went wrong and exit non-zero
        db.session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)

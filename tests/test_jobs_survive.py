"""Background jobs survive a database that goes away (subsidy.common.jobs): the SMS worker, the
escalation and the stats refresh, against a real lock and real dropped connections.

SQLite: a second sqlite3 connection holds the write lock (BEGIN IMMEDIATE) for longer than the
busy timeout (lowered to 200 ms through SQLITE_BUSY_TIMEOUT_MS for the job's own app) while
the job runs. PostgreSQL: the job's connections (named by application_name) are killed with
pg_terminate_backend from another connection while it runs. Each job must log, wait, go on,
and end with everything done once: no message lost or sent twice."""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
import time_machine

from subsidy import create_app
from subsidy.common.jobs import Retry, is_transient
from subsidy.extensions import db
from subsidy.notify.models import Message, MessageStatus
from tests.factories import HouseholdFactory
from tests.sms_fixtures import (  # noqa: F401
    PUBLIC,
    all_messages,
    fake,  # noqa: F401
    owe,
    sms_transitions_guarded,
    twilio,
)

S = MessageStatus
JOB_APP_NAME = "subsidy-job-under-test"
LOCK_SECONDS = 1.2  # six busy timeouts


def backend(app) -> str:
    return "postgresql" if app.config["DATABASE_URL"].startswith("postgresql") else "sqlite"


def job_app(app, **extra):
    """The job's own app on the test database, as a separate process would run it: busy timeout
    200 ms, short backoff, its connections named for pg_terminate_backend."""
    config = {key: app.config[key] for key in ("DATABASE_URL", "SMS_OUTBOX_FILE", "SECRET_KEY")}
    config.update(TESTING=True, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False, SQLITE_BUSY_TIMEOUT_MS=200,
                  JOB_RETRY_BASE_SECONDS=0.05, JOB_RETRY_MAX_SECONDS=0.4, JOB_GIVE_UP_SECONDS=60,
                  SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": JOB_APP_NAME}}
                  if backend(app) == "postgresql" else {})
    config.update(extra)
    return create_app(config)


class Holder(logging.Handler):
    """Another process's write lock on the SQLite file, on a connection of its own. `hold()`
    takes it and keeps it until the job has met it (logged that the database is unavailable)
    and LOCK_SECONDS more, whenever the job gets there."""

    def __init__(self, path: str, logger: str):
        super().__init__(logging.WARNING)
        self.con = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        self.held = threading.Event()
        self.times = 0
        self.timer = None
        self.logger = logging.getLogger(logger)
        self.logger.addHandler(self)

    def hold(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        self.held.set()
        self.times += 1
        self.timer = None
        self._later(30)  # never for good, whatever happens

    def emit(self, record) -> None:
        if self.held.is_set() and self.timer is None and "database unavailable" in record.getMessage():
            self.timer = self._later(LOCK_SECONDS)

    def _later(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.let_go)
        timer.daemon = True
        timer.start()
        return timer

    def let_go(self) -> None:
        if self.held.is_set():
            self.held.clear()
            self.con.execute("ROLLBACK")

    def close(self) -> None:
        self.logger.removeHandler(self)
        deadline = time.monotonic() + 30
        while self.held.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.let_go()
        self.con.close()


class Killer:
    """pg_terminate_backend on every connection of the job's app, from another connection."""

    def __init__(self, engine):
        self.engine = engine
        self.killed = 0

    def kill(self) -> int:
        with self.engine.connect() as conn:
            n = len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name "
                "AND datname = current_database() AND pid <> pg_backend_pid()"), {"name": JOB_APP_NAME}).all())
            conn.commit()
        self.killed += n
        return n

    def keep_killing(self, seconds: float) -> threading.Thread:
        """A database that stays away for a while (a restart): every connection the job makes
        is killed as soon as it shows, for `seconds`."""
        def run():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                self.kill()
                time.sleep(0.02)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture(autouse=True)
def _loggers_enabled(monkeypatch):
    """The suite's migrations run Alembic's fileConfig, which disables the loggers that existed
    then (subsidy.sms among them); the worker's log is part of what is checked here."""
    for name in ("subsidy.sms", "subsidy.jobs"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)


def _dispose(a) -> None:
    with a.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- the retry itself


def test_transient_errors_are_told_from_mistakes(app, county):
    locked = sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
    no_table = sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_transient(locked) and not is_transient(no_table)
    assert not is_transient(ValueError("x")) and not is_transient(sa.exc.IntegrityError("", {}, Exception()))

    class PgError(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    for state, transient in (("57P01", True), ("08006", True), ("40001", True), ("23505", False), ("42P01", False)):
        assert is_transient(sa.exc.DBAPIError("x", {}, PgError(state))) is transient, state


def test_the_backoff_grows_to_its_cap_with_jitter():
    retry = Retry(base=0.5, cap=4.0, rng=random.Random(3))
    for attempt, ceiling in enumerate([0.5, 1, 2, 4, 4, 4], start=1):
        draws = [retry.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in draws) and len(set(draws)) > 1


def test_a_retry_runs_the_work_again_and_gives_up_when_told(app, county):
    waits = []
    locked = sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise locked
        return "done"

    retry = Retry(base=0.01, cap=0.02, sleep=waits.append)
    assert retry.call(flaky, "test") == "done" and len(calls) == 4 and retry.retries == 3
    with pytest.raises(ValueError):
        retry.call(lambda: (_ for _ in ()).throw(ValueError("a mistake is not retried")), "test")
    with pytest.raises(sa.exc.OperationalError):
        Retry(base=0.01, cap=0.01, give_up_after=0.05).call(lambda: (_ for _ in ()).throw(locked), "test")


# ---------------------------------------------------------------- the SMS worker


def _run_worker(worker_app, outages, hook_at: dict, expected: int):
    """Run the worker (run_forever, as `flask sms worker`) in a thread until `expected` messages
    are sent; `hook_at[n]` runs just after the worker sends its n-th message. Answers
    (worker, the exception it died of or None, whether it was still running at the end)."""
    from subsidy.notify.worker import Worker

    state = {"error": None, "worker": None}
    started = threading.Event()

    def run():
        try:
            with worker_app.app_context():
                worker = Worker(batch_size=4, record_every=0, rng=random.Random(5))
                state["worker"] = worker
                send, count = worker.gateway.send, [0]

                def send_and_meet_outages(*args):
                    result = send(*args)
                    count[0] += 1
                    if count[0] in hook_at:
                        hook_at[count[0]]()
                    return result

                worker.gateway.send = send_and_meet_outages
                started.set()
                worker.run_forever()
        except BaseException as exc:  # noqa: BLE001 - the worker must not die: report how it did
            state["error"] = exc
            started.set()
        finally:
            with worker_app.app_context():
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    outages()
    thread.start()
    started.wait(10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and thread.is_alive():
        sent = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.status == S.sent))
        db.session.rollback()  # outside a request this session's reads take the write lock too: let go
        if sent >= expected:
            break
        time.sleep(0.1)
    alive = thread.is_alive()
    if state["worker"] is not None:
        state["worker"].stopping = True
    thread.join(30)
    return state["worker"], state["error"], alive


def _sent_once_each(messages, twilio) -> None:  # noqa: F811
    counts = twilio.creates_by_message()
    assert {m.id: counts.get(str(m.id), 0) for m in messages} == {m.id: 1 for m in messages}
    assert {m.status for m in all_messages()} == {S.sent}


@pytest.mark.slow  # waits out a held lock
def test_the_sms_worker_waits_out_a_locked_database(app, county, twilio, caplog):  # noqa: F811
    if backend(app) != "sqlite":
        pytest.skip("SQLite's write lock; PostgreSQL: the next test")
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(10)]
    worker_app = job_app(app, **twilio.app_config(), PUBLIC_BASE_URL=PUBLIC, SMS_POLL_SECONDS=0.05,
                         TWILIO_TIMEOUT_SECONDS=0.5)
    holder = Holder(db.engine.url.database, "subsidy.sms")
    try:
        with caplog.at_level(logging.WARNING, logger="subsidy.sms"):
            # Locked before the worker starts (its first claim meets it), and again between a
            # send and its record (the outcome must wait in memory, then be recorded once).
            worker, error, alive = _run_worker(worker_app, holder.hold, {3: holder.hold}, len(messages))
    finally:
        holder.close()
        _dispose(worker_app)
    assert error is None, repr(error)
    assert alive, "the worker exited"
    assert holder.times == 2 and worker.retry.retries >= 2  # each lock outlived several busy timeouts
    assert "database is locked" in caplog.text and "database back" in caplog.text
    _sent_once_each(messages, twilio)


def test_the_sms_worker_survives_its_connections_killed(app, county, twilio, caplog):  # noqa: F811
    if backend(app) != "postgresql":
        pytest.skip("pg_terminate_backend: PostgreSQL")
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(10)]
    worker_app = job_app(app, **twilio.app_config(), PUBLIC_BASE_URL=PUBLIC, SMS_POLL_SECONDS=0.05,
                         TWILIO_TIMEOUT_SECONDS=0.5)
    killer = Killer(db.engine)
    try:
        with caplog.at_level(logging.WARNING, logger="subsidy.sms"):
            # Killed between a send and its record; later gone for a second and a half, every
            # connection killed as it comes (as during a restart).
            worker, error, alive = _run_worker(worker_app, lambda: None,
                                               {3: killer.kill, 6: lambda: killer.keep_killing(1.5)}, len(messages))
    finally:
        _dispose(worker_app)
    assert error is None, repr(error)
    assert alive, "the worker exited"
    assert killer.killed >= 2 and worker.retry.retries >= 2
    assert "database unavailable" in caplog.text
    _sent_once_each(messages, twilio)


# ---------------------------------------------------------------- the cron jobs


@pytest.fixture
def overdue_case(county):
    from subsidy.accounts.models import Role
    from tests.cases_support import TOWNSHIP, china, record
    from tests.factories import UserFactory

    clerk = UserFactory(role=Role.township_reviewer, region_code=TOWNSHIP, phone="13909540001")
    db.session.commit()
    return record(clerk, at=china(2024, 3, 4, 9)), china(2024, 3, 8, 2)  # due Thu 7 Mar: overdue on the 8th


def run_command(job, *args):
    """`flask <args>` run by the job's own app (the test's app context would otherwise be the
    one the command finds and uses)."""
    with job.app_context():
        return job.test_cli_runner().invoke(args=list(args))


def _outage_during(app, job_app_, hook_module, hook_name):
    """SQLite: the lock held before the command starts and released after LOCK_SECONDS.
    PostgreSQL: the command's connections killed the first time it reaches `hook_name`."""
    if backend(app) == "sqlite":
        holder = Holder(db.engine.url.database, "subsidy.jobs")
        holder.hold()
        return holder.close, lambda: holder.times == 1
    killer = Killer(db.engine)
    real = getattr(hook_module, hook_name)
    calls = []

    def killed_first(*args, **kwargs):
        if not calls:
            calls.append(killer.kill())
        return real(*args, **kwargs)

    setattr(hook_module, hook_name, killed_first)
    return (lambda: setattr(hook_module, hook_name, real)), lambda: calls and calls[0] >= 1


def test_the_escalation_waits_out_the_database(app, overdue_case, caplog):
    from subsidy.cases import escalation
    from subsidy.cases.models import Case

    case, day_after = overdue_case
    cron = job_app(app)
    done, happened = _outage_during(app, cron, escalation.workflow, "apply_bulk")
    try:
        with caplog.at_level(logging.WARNING, logger="subsidy.jobs"), time_machine.travel(day_after, tick=False):
            result = run_command(cron, "cases", "escalate")
    finally:
        done()
        _dispose(cron)
    assert happened()
    assert result.exit_code == 0, result.output
    assert "escalated 1 overdue case(s)" in result.output
    assert "cases escalate: database unavailable" in caplog.text
    db.session.expire_all()
    assert db.session.get(Case, case.id).escalation_count == 1  # once, though the run was repeated


def test_the_stats_refresh_waits_out_the_database(app, county, caplog):
    from subsidy.stats import cache
    from subsidy.stats.models import StatsCache

    cron = job_app(app)
    done, happened = _outage_during(app, cron, cache, "keep")
    try:
        with caplog.at_level(logging.WARNING, logger="subsidy.jobs"):
            result = run_command(cron, "stats", "refresh", "--year", "2024")
    finally:
        done()
        _dispose(cron)
    assert happened()
    assert result.exit_code == 0, result.output
    assert "refreshed 3 regions" in result.output
    assert "stats refresh: database unavailable" in caplog.text
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StatsCache)) > 0


def test_a_cron_job_gives_up_in_the_end_and_says_so(app, overdue_case):
    if backend(app) != "sqlite":
        pytest.skip("a lock held for good: SQLite")
    case, day_after = overdue_case
    cron = job_app(app, JOB_GIVE_UP_SECONDS=0.5)
    holder = Holder(db.engine.url.database, "subsidy.jobs")
    holder.hold()  # held until released at the end: the job gives up first
    try:
        with time_machine.travel(day_after, tick=False):
            result = run_command(cron, "cases", "escalate")
        holder.let_go()
    finally:
        holder.close()
        _dispose(cron)
    assert result.exit_code == 1 and "database is locked" in result.output


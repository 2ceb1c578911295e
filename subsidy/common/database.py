"""Engine set-up that differs per database.

SQLite (the embedded default) runs in WAL mode with a busy timeout. Its one weakness under a
web server's threads is the deferred transaction that reads and then writes: if another writer
committed in between, SQLite answers "database is locked" at once, whatever the timeout. So a
request that may write (any method but GET/HEAD/OPTIONS) and every command-line transaction
begins with BEGIN IMMEDIATE, taking the write lock up front and queueing on the busy timeout
instead of failing; reads stay deferred and run beside the writer, as WAL allows.
"""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _wants_write() -> bool:
    if has_request_context():
        return request.method not in SAFE_METHODS
    return True


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write() else "BEGIN")


def is_postgres(session_or_conn) -> bool:
    return session_or_conn.get_bind().dialect.name == "postgresql"


def reset_postgres_schema(url: str) -> None:
    """Drop and recreate the public schema of a scratch PostgreSQL database (the test suite and
    the benchmarks start from an empty database); a no-op for SQLite, whose files are new."""
    if not url.startswith("postgresql"):
        return
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def plain_rows(stmt, params: dict | None = None):
    """A select of columns run on the session's connection (in its transaction) without the
    ORM's result processing: 30–50 µs less a statement on either database, a tenth of the
    farmer's "my subsidies" page, which every farmer's phone opens (issue 8's load test)."""
    from subsidy.extensions import db

    return db.session.connection().execute(stmt, params or {})


_REGARDLESS = "subsidy.regardless"


def regardless(work) -> None:
    """Have `work` (a function of no arguments that writes through the session) done whatever
    becomes of the current request or command: with its changes when they commit, or after
    their rollback, in a transaction of its own. For the records a refusal must leave behind:
    a failed sign-in, a probe of the register for another village's ID numbers. Capture plain
    values in `work`, not ORM objects (a rollback expires them)."""
    from subsidy.extensions import db

    db.session.info.setdefault(_REGARDLESS, []).append(work)


def finish(session, *, commit: bool) -> None:
    """The one end of a request (subsidy.web) or command: commit, or roll back and then keep
    the `regardless` work."""
    pending = session.info.pop(_REGARDLESS, [])
    if commit:
        for work in pending:
            work()
        session.commit()
        return
    session.rollback()
    if pending:
        try:
            for work in pending:
                work()
            session.commit()
        except BaseException:
            session.rollback()
            raise

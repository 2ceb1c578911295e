"""Engine set-up that differs per database.

SQLite (the embedded default) runs in WAL mode with a busy timeout. Its one weakness under a
web server's threads is the deferred transaction that reads and then writes: if another writer
committed in between, SQLite answers "database is locked" at once, whatever the timeout. So a
request that may write (any method but GET/HEAD/OPTIONS) and every command-line transaction
begins with BEGIN IMMEDIATE, taking the write lock up front and queueing on the busy timeout
instead of failing; reads stay deferred and run beside the writer, as WAL allows.

A request that must first read a lot (an import parsing a large spreadsheet) and only then
write would hold that lock for the whole reading. `read_phase()` (below) is its way out: the
transaction it runs is deferred and read-only, and it is ended before the writing begins, so
the write lock is taken (BEGIN IMMEDIATE) only for the write phase.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy import types as sa_types
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import scoped_session
from sqlalchemy.sql.functions import FunctionElement

log = logging.getLogger("subsidy.database")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The default of the SQLITE_BUSY_TIMEOUT_MS setting, and of engines made outside the app.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# True inside `read_phase()`: transactions begun then are deferred and read-only.
_reading: ContextVar[bool] = ContextVar("subsidy_read_phase", default=False)


def _wants_write() -> bool:
    if _reading.get():
        return False
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
    reading = _reading.get()
    if conn.dialect.name == "sqlite":
        # query_only makes a write in the read phase fail at once rather than quietly take the
        # write lock; it is per connection, so it is set (and cleared) only when it changes.
        info = conn.connection.info
        if info.get("query_only", False) != reading:
            conn.exec_driver_sql(f"PRAGMA query_only={int(reading)}")
            info["query_only"] = reading
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write() else "BEGIN")
        if not reading:
            info["changes_at_begin"] = conn.connection.dbapi_connection.total_changes
    elif reading and conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")


def configure_engine(engine, busy_timeout_ms: int) -> None:
    """Per-engine settings of the app (create_app): SQLite's busy timeout (SQLITE_BUSY_TIMEOUT_MS),
    when it is not the default. The engine's own listener runs after the global `_on_connect`."""
    if engine.dialect.name == "sqlite" and int(busy_timeout_ms) != SQLITE_BUSY_TIMEOUT_MS:
        ms = int(busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _busy_timeout(dbapi_connection, connection_record):
            cur = dbapi_connection.cursor()
            cur.execute(f"PRAGMA busy_timeout={ms}")
            cur.close()


def _has_written(session) -> bool:
    """Whether the session's transaction has written anything (flushed or executed)."""
    if session.new or session.dirty or session.deleted:
        return True
    trans = session.get_transaction()
    # The connections the transaction holds, if any (asking the session for one would begin
    # one, on SQLite under the write lock, just to look).
    held = [entry[0] for entry in getattr(trans, "_connections", {}).values()] if trans is not None else []
    if not held:
        return False
    conn = held[0]
    if conn.dialect.name == "sqlite":
        info = conn.connection.info
        return conn.connection.dbapi_connection.total_changes != info.get("changes_at_begin")
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is not None
    return False


@contextmanager
def read_phase(session=None):
    """The reading part of a request that reads a lot before it writes (a spreadsheet import):

        with read_phase():
            ...parse and check the upload, read what is needed...   # no write lock held
        ...write...                                                  # BEGIN IMMEDIATE from here

    On entry the session's transaction (the user loaded for authentication, under BEGIN
    IMMEDIATE on SQLite) is ended, which it may only be before anything was written: after a
    write (a caller that wrote first; on PostgreSQL even a savepoint rolled back counts) the
    block runs inside that transaction instead, logged, its writes never committed early (and
    the write lock, on SQLite, held as before). Otherwise, inside,
    every transaction is deferred and read-only (SQLite `BEGIN` with `PRAGMA query_only`,
    PostgreSQL `SET TRANSACTION READ ONLY`): it holds no lock and cannot write. On exit,
    however the block ends, its transaction is ended too, so the write phase starts a fresh
    transaction, which on SQLite takes the write lock as any write does, and sees what other
    writers committed meanwhile: whatever they could have changed must be checked again there.
    ORM objects loaded before or during the phase are expired and reload in the write phase.
    Nested use is the outer phase. On PostgreSQL nothing about locking changes."""
    from subsidy.extensions import db

    session = session if session is not None else db.session
    if isinstance(session, scoped_session):
        session = session()
    if _reading.get():
        yield
        return
    if _has_written(session):
        log.warning("read_phase() entered after the transaction wrote: it reads in that transaction instead")
        yield
        return
    session.commit()  # ends a transaction that only read
    token = _reading.set(True)
    try:
        yield
    finally:
        try:
            session.rollback()  # nothing was written (read-only): just end the transaction
        finally:
            _reading.reset(token)


def is_postgres(session_or_conn) -> bool:
    """For the bulk paths that talk to the driver itself (COPY on PostgreSQL)."""
    bind = session_or_conn.get_bind() if hasattr(session_or_conn, "get_bind") else session_or_conn
    return bind.dialect.name == "postgresql"


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
    farmer's "my subsidies" page, which every farmer's phone opens."""
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


# --- what differs between the two databases, named once -------------------------------------
# Business modules never test the dialect: they call these.


def dialect_name() -> str:
    from subsidy.extensions import db

    return db.session.get_bind().dialect.name


def upsert_insert(table):
    """The dialect's INSERT, which knows ON CONFLICT (DO NOTHING / DO UPDATE) and RETURNING."""
    if dialect_name() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def cents_to_money(cents):
    """Integer cents as a two-decimal number, exactly (PostgreSQL NUMERIC; SQLite keeps REAL)."""
    import sqlalchemy as sa

    if dialect_name() == "postgresql":
        return sa.cast(cents, sa.Numeric(18, 2)) / 100
    return cents / 100.0


def two_decimals(expr):
    """A number as text with two decimals, by the database (equal to `money.fmt`)."""
    import sqlalchemy as sa

    if dialect_name() == "postgresql":
        return sa.type_coerce(sa.func.to_char(expr, "FM999999999990.00"), sa.String)
    return sa.type_coerce(sa.func.printf("%.2f", expr), sa.String)


def lock_rows(stmt, *, read: bool = False, skip_locked: bool = False):
    """`stmt` FOR UPDATE (FOR SHARE with `read`) where the database has row locks; SQLite's
    writer already holds the whole database (BEGIN IMMEDIATE), so it needs none."""
    if dialect_name() != "postgresql":
        return stmt
    return stmt.with_for_update(read=read, skip_locked=skip_locked)


def advisory_lock(key: int) -> None:
    """Serialise a critical section across transactions (PostgreSQL: a transaction-scoped
    advisory lock; SQLite: the write lock every writing transaction takes up front)."""
    if dialect_name() == "postgresql":
        import sqlalchemy as sa

        from subsidy.extensions import db

        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def add_unique(obj, conflict: Exception) -> None:
    """Add and flush `obj` inside a SAVEPOINT: a unique constraint it breaks (another request
    inserted the same row a moment before) raises `conflict`, a 409 the user understands, not a
    500, and leaves the request's transaction usable."""
    import sqlalchemy as sa

    from subsidy.extensions import db

    try:
        with db.session.begin_nested():
            db.session.add(obj)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise conflict from None


# --- China time in SQL ------------------------------------------------------------------------
# Timestamps are stored in UTC; figures by day or month are by China's calendar. Each database's
# SQL is chosen by SQLAlchemy's compiler. The constants are literal, not bound: an expression is
# rendered once in the SELECT and once in the GROUP BY and must read the same in both. China has
# had no daylight saving time since 1991, so SQLite's fixed '+8 hours' is exact.

class local_day(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    """The China-time calendar day of a UTC timestamp column."""

    type = sa_types.Date()
    name = "local_day"
    inherit_cache = True


class local_month(FunctionElement):  # noqa: N801
    """The China-time month (YYYY-MM) of a UTC timestamp column."""

    type = sa_types.String()
    name = "local_month"
    inherit_cache = True


def _literal(text: str):
    import sqlalchemy as sa

    return sa.literal_column(f"'{text}'")


@compiles(local_day)
def _local_day_sqlite(element, compiler, **kw):
    import sqlalchemy as sa

    return compiler.process(sa.func.date(*element.clauses, _literal("+8 hours")), **kw)


@compiles(local_day, "postgresql")
def _local_day_postgresql(element, compiler, **kw):
    import sqlalchemy as sa

    return compiler.process(sa.func.date(sa.func.timezone(_literal("Asia/Shanghai"), *element.clauses)), **kw)


@compiles(local_month)
def _local_month_sqlite(element, compiler, **kw):
    import sqlalchemy as sa

    return compiler.process(sa.func.strftime(_literal("%Y-%m"), *element.clauses, _literal("+8 hours")), **kw)


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw):
    import sqlalchemy as sa

    return compiler.process(sa.func.to_char(sa.func.timezone(_literal("Asia/Shanghai"), *element.clauses),
                                            _literal("YYYY-MM")), **kw)

"""Bulk loading for the benchmarks' generator (bench/generate.py): rows into tables with COPY on
PostgreSQL and executemany on SQLite, indexes dropped for the load and rebuilt after it, and the
database made ready for the app afterwards (sequences, statistics)."""
from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

UTC = UTC


# --- writing rows -------------------------------------------------------------------------------

def _sqlite_value(v):
    """A value as SQLAlchemy would bind it on SQLite (the raw driver sees no column types)."""
    t = type(v)
    if t is datetime:
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's storage format
    if t is Decimal:
        return float(v)
    if t is date:
        return v.isoformat()
    return v


class Loader:
    """Bulk rows into tables: COPY on PostgreSQL, executemany on SQLite, over one connection.

    On PostgreSQL the rows of a table are made here and copied by a worker thread on the
    loader's connection, so the server takes one table while the next ones are being made (at
    most `PENDING_ROWS` rows wait, a county or two). Per table it keeps the rows and the seconds spent on them, making
    and copying (the two overlap, so the seconds of all tables add up to more than the wall
    time)."""

    PENDING_ROWS = 3_000_000

    def __init__(self, engine, progress=print):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.progress = progress
        self.rows = 0
        self.tables: dict[str, list] = {}  # table -> [rows, seconds making, seconds copying]
        self.types: dict[str, list[int]] = {}
        self.raw = engine.raw_connection()
        self.cur = self.raw.cursor()
        self.worker = None
        if self.pg:
            # Rows arrive consistent, so foreign-key triggers are skipped (superuser only;
            # else they run: parents come first) and commits need not wait for the disk.
            self._try("SET session_replication_role = replica")
            self._try("SET synchronous_commit = off")
            self.queue: queue.Queue = queue.Queue()
            self.pending = 0
            self.room = threading.Condition()
            self.error: BaseException | None = None
            self.worker = threading.Thread(target=self._work, name="copy", daemon=True)
            self.worker.start()

    def _try(self, sql: str) -> None:
        try:
            self.cur.execute(sql)
            self.raw.commit()
        except Exception:  # noqa: BLE001 - an optimisation only; the load works without it
            self.raw.rollback()

    def _work(self) -> None:
        while True:
            task = self.queue.get()
            try:
                if task is None:
                    return
                if self.error is None:
                    task()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.error = exc
                self._done(0)
            finally:
                self.queue.task_done()

    def _submit(self, task, rows: int = 0) -> None:
        with self.room:
            self.room.wait_for(lambda: self.pending < self.PENDING_ROWS or self.error is not None)
            self.pending += rows
        if self.error is not None:
            raise self.error
        self.queue.put(task)

    def _done(self, rows: int) -> None:
        with self.room:
            self.pending -= rows
            self.room.notify_all()

    def _stats(self, table: str) -> list:
        return self.tables.setdefault(table, [0, 0.0, 0.0])

    def _copy(self, table: str, columns: list[str], rows: list) -> None:
        from psycopg.copy import QueuedLibpqWriter

        start = time.perf_counter()
        key = f"{table}({','.join(columns)})"
        if key not in self.types:
            self.cur.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
                             (table,))
            oids = dict(self.cur.fetchall())
            self.types[key] = [oids[c] for c in columns]
        # Binary and typed: no text to format or parse; the queued writer sends from its own thread.
        with self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)",
                           writer=QueuedLibpqWriter(self.cur)) as copy:
            copy.set_types(self.types[key])
            for row in rows:
                copy.write_row(row)
        self._stats(table)[2] += time.perf_counter() - start
        self._done(len(rows))

    def begin(self) -> None:
        if not self.pg:
            # The app's connections run in autocommit and BEGIN themselves.
            self.cur.execute("BEGIN")
            self.cur.execute("PRAGMA defer_foreign_keys = ON")

    def commit(self) -> None:
        if self.pg:
            self._submit(self.raw.commit)
        else:
            self.cur.execute("COMMIT")

    def drain(self) -> None:
        """Wait until every table handed over is written (and raise what went wrong there)."""
        if self.worker is not None:
            self.queue.join()
            if self.error is not None:
                raise self.error

    def load(self, table: str, columns: list[str], rows) -> int:
        start = time.perf_counter()
        if self.pg:
            rows = list(rows)
            n = len(rows)
            self._stats(table)[1] += time.perf_counter() - start
            self._submit(lambda: self._copy(table, columns, rows), n)
        else:
            n = 0
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            chunk = []
            for row in rows:
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) >= 20_000:
                    self.cur.executemany(sql, chunk)
                    n += len(chunk)
                    chunk = []
            if chunk:
                self.cur.executemany(sql, chunk)
                n += len(chunk)
            self._stats(table)[1] += time.perf_counter() - start
        self._stats(table)[0] += n
        self.rows += n
        return n

    def close(self) -> None:
        try:
            if self.worker is not None:
                self.queue.put(None)
                self.worker.join()
            if self.pg:
                self.raw.rollback()
                self.cur.execute("RESET ALL")
                self.raw.commit()
        finally:
            self.raw.close()


class SecondaryIndexes:
    """Indexes are dropped before the load and rebuilt after it: one sorted build is much
    cheaper than millions of inserts into each b-tree. That is every index backing no
    constraint, and on PostgreSQL also the primary keys and unique constraints that no foreign
    key depends on (the others must stay); the same definitions come back, by name. The app's
    triggers (the filings' list stamps, migration 0009) are set aside the same way: the
    generator writes the stamp rows itself, and a trigger per loaded entry would only stamp
    its filing again, once a row."""

    def __init__(self, engine):
        self.engine = engine
        self.saved: list[tuple[str, str, str]] = []  # (name, drop statement, create statement)

    def drop(self) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                constraints = conn.execute(sa.text(
                    "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "WHERE c.contype IN ('p', 'u') AND c.connamespace = current_schema()::regnamespace "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid) "
                    "ORDER BY c.conname")).all()
                self.saved = [(name, f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"',
                               f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                              for name, table, definition in constraints if table != "alembic_version"]
                indexes = conn.execute(sa.text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
                    "AND c.connamespace = current_schema()::regnamespace) ORDER BY i.indexname")).all()
                triggers = conn.execute(sa.text(
                    "SELECT t.tgname, t.tgrelid::regclass::text, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
                    "AND c.relnamespace = current_schema()::regnamespace ORDER BY t.tgname")).all()
                self.saved += [(name, f'DROP TRIGGER "{name}" ON "{table}"', definition)
                               for name, table, definition in triggers]
            else:
                indexes = conn.execute(sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "ORDER BY name")).all()
                triggers = conn.execute(sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")).all()
                self.saved += [(name, f'DROP TRIGGER "{name}"', sql) for name, sql in triggers]
            self.saved += [(name, f'DROP INDEX "{name}"', sql) for name, sql in indexes]
            for _, drop, _ in self.saved:
                conn.exec_driver_sql(drop)

    def rebuild(self) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
            for _, _, create in self.saved:
                conn.exec_driver_sql(create)
        self.saved = []


# --- after the load -----------------------------------------------------------------------------

def set_sequences(engine) -> None:
    """Every serial sequence past its table's largest id (SQLite's rowids need nothing)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')")).all()
        for table, column in rows:
            conn.execute(sa.text(f'SELECT setval(pg_get_serial_sequence(:t, :c), '
                                 f'coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'),
                         {"t": table, "c": column})


def analyze(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def is_empty(engine) -> bool | None:
    """None when the schema is missing, else whether the tables the generator fills are empty."""
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        if "households" not in tables:
            return None
        return not any(conn.execute(sa.text(f'SELECT 1 FROM "{t}" LIMIT 1')).first()
                       for t in ("regions", "users", "households"))

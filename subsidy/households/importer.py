"""Importing the household register from .xlsx (docs/api.md
"Spreadsheet imports").

Rules:
- the first sheet is read row by row (openpyxl read-only); row 1 holds the headers, which may
  use full-width brackets; `村代码` is required when the importer sits above a village;
- every row is checked before anything is written; any error writes nothing and the answer
  lists each bad row, field (the Chinese column header) and reason;
- a row whose ID number is already registered in the importer's region updates that household,
  other rows create one; an ID number registered outside the region is an error (a village
  cannot take over another village's household);
- the writes are set-based and the import is one audit event `household.import` with the file's
  name and SHA-256, the counts, and for each changed household the fields before and after.

Speed and memory (bench/bench_households.py: 100,000 rows in at most 1.5 times a bare read of
the file, under 300 MB): the reading is openpyxl's and cannot be cut, so everything else is kept small beside
it. Rows are checked in one tight loop into plain tuples (columns whose values repeat, such as
家庭人口, 耕地面积 and 村代码, are checked once per distinct value); the registered households
are looked up in large chunks and compared as they arrive; new households go in through the
driver itself (`COPY` on PostgreSQL, `executemany` on SQLite), and changed ones are updated by
primary key in one statement per set of changed columns (on PostgreSQL an `UPDATE ... FROM` a
temporary table filled by `COPY`); the rows are let go before the audit detail is built.
"""
from __future__ import annotations

import re
from contextlib import closing
from itertools import compress
from operator import ne

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require, requires
from subsidy.audit import service as audit
from subsidy.common.database import is_postgres, read_phase
from subsidy.common.limits import HOUSEHOLDS
from subsidy.common.timeutil import utcnow
from subsidy.common.xlsx import (
    ImportResult,
    RowErrors,
    SheetReader,
    cell_text,
    check_filename,
    lost_digits,
    map_headers,
    require_file,
    spool_upload,
)
from subsidy.errors import Conflict
from subsidy.extensions import db
from subsidy.households.columns import COLUMNS, DIGIT_STRINGS, FIELDS, LABEL, VILLAGE_CODE, VILLAGE_NAME
from subsidy.households.models import Household
from subsidy.households.service import (
    CONTACT_WARNINGS,
    REGISTERED_ELSEWHERE,
    TRANSFER_WHO,
    note_elsewhere_hits,
    shared_contacts,
)
from subsidy.households.validation import CHECKERS, check_id_number, region_code_warning
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import covers, within

MAX_IMPORT_ROWS = HOUSEHOLDS.rows
# ID numbers per lookup query: SQLite's default limit of bound parameters was 999 before 3.32;
# PostgreSQL takes them as one array parameter.
LOOKUP_CHUNK = {"sqlite": 900, "postgresql": 20_000}
VILLAGE_RE = re.compile(r"^\d{12}$")
# The order of a parsed row (a tuple) and of the columns written; `id` comes first in a
# looked-up row, so registered[i + 1] is FIELDS[i].
ID = FIELDS.index("id_number")
# Columns checked once per distinct cell value (values repeat; names and numbers do not).
MEMOIZED = {"members", "land_area_mu"}
_MISSING = object()


def _villages_in_scope(actor) -> set[str]:
    return set(db.session.scalars(
        sa.select(Region.code).where(within(Region.code, actor.region_code), Region.level == Level.village)))


def _memoized(checker):
    """`checker` remembered per (type, value) for one import: a cell's answer depends on its
    value only (the type is part of the key, since True == 1 == 1.0 but they read differently)."""
    memo: dict = {}

    def check(raw):
        key = (raw.__class__, raw)
        hit = memo.get(key, _MISSING)
        if hit is _MISSING:
            try:
                hit = memo[key] = (checker(raw), None)
            except ValueError as exc:
                hit = memo[key] = (None, str(exc))
        if hit[1] is not None:
            raise ValueError(hit[1])
        return hit[0]

    return check


class _RowParser:
    """Turns one spreadsheet row into a tuple of clean values (in FIELDS order), or reports
    why it cannot."""

    def __init__(self, actor, columns: dict[str, int], errors: RowErrors, warnings: RowErrors):
        self.actor = actor
        self.errors = errors
        self.warnings = warnings
        self.village_actor = len(actor.region_code) == 12
        self.villages = {actor.region_code} if self.village_actor else _villages_in_scope(actor)
        self.seen: dict[str, int] = {}  # ID number -> first row it appeared on
        self.number = 0
        self.village_index = columns.get(VILLAGE_CODE.key)
        self.village_memo: dict = {}
        self.plan = []
        for column in COLUMNS:
            checker = CHECKERS[column.key]
            if column.key == "id_number":
                checker = self._id_number
            elif column.key in MEMOIZED:
                checker = _memoized(checker)
            lost = (f"{column.header}被 Excel 当作数字保存，末几位已丢失：请把该列设为“文本”格式后重新填写"
                    if column.key in DIGIT_STRINGS else None)
            self.plan.append((columns[column.key], checker, column.header, lost))

    def parse(self, number: int, cells: tuple) -> tuple | None:
        self.number = number
        code, message = self._village(cells)
        values = [code]
        append = values.append
        ok = True
        for index, checker, header, lost in self.plan:
            raw = cells[index]
            try:
                if lost is not None and isinstance(raw, float) and lost_digits(raw):
                    raise ValueError(lost)
                append(checker(raw))
            except ValueError as exc:
                self.errors.add(number, header, str(exc))
                ok = False
        if message is not None:  # after the row's other errors, as the columns read
            self.errors.add(number, VILLAGE_CODE.header, message)
            return None
        return tuple(values) if ok else None

    def close(self) -> None:
        """Let go of the ID numbers seen at once: the plan holds the parser's own method, a
        cycle the garbage collector would break only later."""
        self.plan = self.seen = None

    def _id_number(self, raw) -> str:
        value = check_id_number(raw)
        number = self.number
        first = self.seen.setdefault(value, number)
        if first != number:
            raise ValueError(f"身份证号与第 {first} 行重复（第 {first} 行和第 {number} 行是同一个身份证号），"
                             "一人只能登记一户")
        warning = region_code_warning(value)
        if warning:
            self.warnings.add(number, LABEL["id_number"], warning)
        return value

    def _village(self, cells: tuple) -> tuple[str | None, str | None]:
        raw = cells[self.village_index] if self.village_index is not None else None
        key = (raw.__class__, raw)
        hit = self.village_memo.get(key)
        if hit is None:
            hit = self.village_memo[key] = self._check_village(raw)
        return hit

    def _check_village(self, raw) -> tuple[str | None, str | None]:
        """(village code, None) or (None, the message for the clerk)."""
        if lost_digits(raw):
            return None, "村代码应为 12 位数字"
        text = cell_text(raw)
        if not text:
            if self.village_actor:
                return self.actor.region_code, None
            return None, "村代码不能为空：请填写该户所属村的 12 位代码"
        if not VILLAGE_RE.match(text):
            return None, "村代码应为 12 位数字"
        if text not in self.villages:
            if self.village_actor:
                return None, f"村代码应为本村代码 {self.actor.region_code}（只能导入本村农户）"
            return None, "村代码不是您辖区内的村，请核对"
        return text, None


class _Batch:
    """The checked rows of one file (tuples in FIELDS order, with their row numbers), then what
    the register holds of them. Kept in one object so that the write phase can let go of the
    rows before it builds the audit detail: at 100,000 rows each is tens of megabytes."""

    def __init__(self):
        self.numbers: list[int] = []
        self.rows: list[tuple] = []
        self.found = bytearray()  # 1 where the ID number is registered
        # (position, id, ID number, changed positions in FIELDS, values before, values after)
        self.changed: list[tuple] = []
        self.unchanged = 0
        self.foreign: list[int] = []  # positions registered outside the importer's region


def _read(actor, sheet, errors: RowErrors, warnings: RowErrors) -> tuple[int, _Batch, set[str]]:
    """Check every row of the sheet; returns (rows counted, the good rows, the villages they
    were checked against)."""
    required = [c.key for c in COLUMNS]
    if len(actor.region_code) != 12:
        required.append(VILLAGE_CODE.key)
    known = {c.header: c.key for c in (*COLUMNS, VILLAGE_CODE)}
    columns = map_headers(sheet.headers, known, required, ignored=[VILLAGE_NAME.header], errors=errors)
    batch = _Batch()
    if errors:
        return 0, batch, set()
    parser = _RowParser(actor, columns, errors, warnings)
    villages = parser.villages
    parse = parser.parse
    numbers, rows = batch.numbers, batch.rows
    count = 0
    for number, cells in sheet:  # at most MAX_IMPORT_ROWS: the reader refuses more
        count += 1
        values = parse(number, cells)
        if values is not None:
            numbers.append(number)
            rows.append(values)
    parser.close()
    return count, batch, villages


def _compare(conn, batch: _Batch, region: str, lock: bool = True) -> None:
    """Look the batch's ID numbers up in the register, a chunk at a time, by the driver itself
    (SQLAlchemy's rows and expanded IN lists cost more than the lookups), and note for each
    registered one whether it lies outside `region`, is unchanged, or what changed. The
    registered rows are compared as they arrive rather than kept. `lock`: on PostgreSQL, lock
    them until the import commits (the write phase; not in a read-only one)."""
    table = Household.__table__
    columns = [table.c.id, *(table.c[f] for f in FIELDS)]
    dialect = conn.dialect
    postgres = is_postgres(conn)
    chunk = LOOKUP_CHUNK.get(dialect.name, 900)
    select = f"SELECT {', '.join(c.name for c in columns)} FROM households WHERE id_number "
    rows = batch.rows
    position = {values[ID]: i for i, values in enumerate(rows)}
    id_numbers = list(position)
    batch.found = found = bytearray(len(rows))
    fields = range(len(FIELDS))
    sets: dict[tuple[int, ...], tuple[int, ...]] = {}
    processors = None
    with closing(conn.connection.driver_connection.cursor()) as cursor:
        for start in range(0, len(id_numbers), chunk):
            part = id_numbers[start:start + chunk]
            if postgres:  # one array parameter instead of thousands
                # Locked until the import commits: a household moved or edited meanwhile would
                # otherwise be overwritten on the strength of a jurisdiction check and "before"
                # values that no longer hold (SQLite: the write phase holds the write lock).
                cursor.execute(select + "= ANY(%s)" + (" FOR UPDATE" if lock else ""), (part,))
            else:
                cursor.execute(select + f"IN ({', '.join('?' * len(part))})", part)
            if processors is None:
                processors = _result_processors(dialect, columns, cursor.description)
            for old in cursor.fetchall():
                if processors:
                    old = list(old)
                    for k, process in processors:
                        old[k] = process(old[k])
                before = tuple(old[1:])
                i = position[before[ID]]
                found[i] = 1
                values = rows[i]
                if not covers(region, before[0]):
                    batch.foreign.append(i)
                elif before == values:
                    batch.unchanged += 1
                else:
                    changed = tuple(compress(fields, map(ne, before, values)))
                    changed = sets.setdefault(changed, changed)  # one tuple per distinct set
                    batch.changed.append((i, old[0], before[ID], changed, tuple(before[f] for f in changed),
                                          tuple(values[f] for f in changed)))
    batch.foreign.sort()
    batch.changed.sort()  # in row order, as the audit detail lists them


def _result_processors(dialect, columns, description) -> list:
    """(position, function) for each column whose driver value SQLAlchemy would convert
    (on SQLite the area, stored as a float, becomes a Decimal as the model has it)."""
    processors = []
    for i, (column, described) in enumerate(zip(columns, description, strict=True)):
        process = column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        if process is not None:
            processors.append((i, process))
    return processors


@requires(Perm.edit_households)
def import_requirements(actor) -> dict:
    """What the import page tells the user: the headers expected of them."""
    needs_village = len(actor.region_code) != 12
    headers = [c.header for c in COLUMNS] + ([VILLAGE_CODE.header] if needs_village else [])
    return {"headers": headers, "needs_village_code": needs_village, "max_rows": MAX_IMPORT_ROWS}


@requires(Perm.edit_households)
def import_households(actor, fileobj, filename: str | None) -> ImportResult:
    """Check every row of the workbook, then create or update households in bulk; with any
    error, write nothing and return the errors (see the module docstring).

    The file is read and checked in the read phase (`read_phase`: on SQLite without the write
    lock, which other writers need meanwhile: a 100,000-row file takes seconds to parse); the
    write phase then holds it only to compare and write, after checking again what may have
    changed in between: the importer's rights and villages, and the register itself (looked
    up only then, under the lock; an ID number registered meanwhile is a 409)."""
    errors, warnings = RowErrors(), RowErrors()
    with read_phase():
        require_file(fileobj)
        check_filename(filename)
        spooled, sha256, size = spool_upload(fileobj)
        with spooled, SheetReader(spooled, HOUSEHOLDS) as sheet:
            if sheet.empty or not sheet.headers:
                errors.add(1, "", "文件是空的：第 1 行须为表头（户主姓名、身份证号……），请下载模板填写")
                return ImportResult.rejected(errors)
            count, batch, villages = _read(actor, sheet, errors, warnings)
        if errors and count == 0:  # the headers
            return ImportResult.rejected(errors)
        if count == 0:
            errors.add(2, "", "文件中没有数据：请从第 2 行起每行填写一户")
            return ImportResult.rejected(errors)
        if errors:
            # Nothing will be written: the rows of households registered elsewhere are found
            # here too, so that one answer lists every error.
            _foreign_errors(db.session.connection(), batch, actor, errors, lock=False)
            return ImportResult.rejected(errors, count, warnings)

    require(actor, Perm.edit_households)
    _recheck_villages(actor, batch, villages, errors)
    if errors:
        return ImportResult.rejected(errors, count, warnings)
    conn = db.session.connection()
    _foreign_errors(conn, batch, actor, errors)
    if errors:
        return ImportResult.rejected(errors, count, warnings)
    contacts = _contacts(batch)
    result = _write(actor, conn, batch, filename=filename, sha256=sha256, size=size)
    _contact_warnings(actor, contacts, warnings)
    result.warnings, result.warning_count = warnings.sorted(), warnings.total
    return result


CONTACT_FIELDS = tuple((FIELDS.index(field), field) for field in CONTACT_WARNINGS)


def _contacts(batch: _Batch) -> list[tuple]:
    """(row number, phone, account) of the rows that have either, kept past the write (which
    lets the rows go)."""
    picks = [i for i, _field in CONTACT_FIELDS]
    return [(number, *(values[i] for i in picks)) for number, values in zip(batch.numbers, batch.rows, strict=True)
            if any(values[i] for i in picks)]


def _contact_warnings(actor, contacts: list[tuple], warnings: RowErrors) -> None:
    """A warning on each written row whose phone or account other households of the county use
    too (counted after the write, so rows of the same file count as well): said at once."""
    for k, (_i, field) in enumerate(CONTACT_FIELDS, start=1):
        shared = shared_contacts(actor.region_code, field)
        if not shared:
            continue
        label = LABEL[field]
        for contact in contacts:
            holders = shared.get(contact[k])
            if holders:
                warnings.add(contact[0], label, CONTACT_WARNINGS[field].format(n=holders - 1))


# Rows of numbers registered in another village listed one by one; beyond, only counted: the
# import must not answer, row by row, which of 100,000 ID numbers the platform holds.
FOREIGN_LISTED = 10


def _foreign_errors(conn, batch: _Batch, actor, errors: RowErrors, lock: bool = True) -> None:
    if lock:
        _compare(conn, batch, actor.region_code)
    else:
        _compare(conn, batch, actor.region_code, lock=False)
    if not batch.foreign:
        return
    for i in batch.foreign[:FOREIGN_LISTED]:
        errors.add(batch.numbers[i], LABEL["id_number"], REGISTERED_ELSEWHERE)
    rest = len(batch.foreign) - FOREIGN_LISTED
    if rest > 0:
        errors.add(batch.numbers[batch.foreign[FOREIGN_LISTED]], LABEL["id_number"],
                   f"另有 {rest} 行的身份证号同样不能在此登记（不逐行列出）：请核对名单来源；{TRANSFER_WHO}")
    note_elsewhere_hits(actor, [batch.rows[i][ID] for i in batch.foreign], source="import")


def _recheck_villages(actor, batch: _Batch, checked: set[str], errors: RowErrors) -> None:
    """The villages the rows were checked against, looked up again in the write phase: a village
    taken out of the importer's scope since (a region moved or removed) fails its rows."""
    if len(actor.region_code) == 12:
        now = {actor.region_code} if db.session.get(Region, actor.region_code) is not None else set()
    else:
        now = _villages_in_scope(actor)
    gone = checked - now
    if not gone:
        return
    for number, values in zip(batch.numbers, batch.rows, strict=True):
        if values[0] in gone:
            errors.add(number, VILLAGE_CODE.header, "村代码不是您辖区内的村，请核对（该村刚被调整）")


def _write(actor, conn, batch: _Batch, *, filename, sha256, size) -> ImportResult:
    """The write phase: new households inserted, changed ones updated, one audit event."""
    now = utcnow()
    rows, numbers = batch.rows, batch.numbers
    total = len(rows)
    inserts = [values for values, found in zip(rows, batch.found, strict=True) if not found]
    created = len(inserts)
    groups: dict[tuple[int, ...], list[tuple]] = {}  # changed positions -> [(id, *new values)]
    for _i, household_id, _id_number, changed, _before, after in batch.changed:
        groups.setdefault(changed, []).append((household_id, *after))
    try:
        if inserts:
            _insert(conn, inserts, now)
        if groups:
            _update(conn, groups, now)
    except sa.exc.IntegrityError as exc:
        if not _unique_violation(exc):
            raise
        # Another import or form registered one of these ID numbers since we looked.
        raise Conflict("导入时有身份证号刚被他人登记，请重新导入以查看具体行", code="duplicate") from None
    del inserts, groups
    # The rows are written: let them go, and each change record as it becomes the audit's
    # dict, so that the detail is never held twice (at 100,000 changes it is ~50 MB).
    unchanged, records = batch.unchanged, batch.changed
    batch.rows = batch.changed = rows = None
    names: dict[tuple[int, ...], tuple[str, ...]] = {}
    changes = []
    records.reverse()
    while records:
        i, household_id, id_number, changed, before, after = records.pop()
        keys = names.get(changed) or names.setdefault(changed, tuple(FIELDS[f] for f in changed))
        changes.append({"id": household_id, "row": numbers[i], "id_number": id_number,
                        "before": dict(zip(keys, before, strict=True)), "after": dict(zip(keys, after, strict=True))})
    batch.numbers = numbers = None
    audit.record(actor, "household.import", "household", None, region_code=actor.region_code,
                 filename=filename, sha256=sha256, size=size, rows=total, created=created,
                 updated=len(changes), unchanged=unchanged, changes=changes)
    db.session.flush()
    return ImportResult(created=created, updated=len(changes), unchanged=unchanged, rows=total)


# Below, statements go to the driver itself: at 100,000 rows SQLAlchemy's per-row work
# (parameter dicts, type processing, row objects) costs more than the database's.


def _processors(dialect, names) -> list:
    table = Household.__table__
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]


def _bound(dialect, name: str, value):
    """One value as SQLAlchemy would bind it to the column `name` (on SQLite an aware time
    becomes naive-UTC text)."""
    process = _processors(dialect, [name])[0]
    return process(value) if process else value


def _bind(dialect, names, rows: list[tuple], tail: tuple = ()) -> list[tuple]:
    """`rows` (tuples of the columns `names`) with each value converted as SQLAlchemy would
    bind it (on SQLite a Decimal becomes a float), `tail` (values already bound) appended:
    the parameters for the driver's executemany."""
    convert = [(i, process) for i, process in enumerate(_processors(dialect, names)) if process is not None]
    if not convert:
        return [(*row, *tail) for row in rows] if tail else rows
    if len(convert) == 1:  # SQLite: the area only
        [(i, process)] = convert
        return [(*row[:i], process(row[i]), *row[i + 1:], *tail) for row in rows]
    out = []
    for row in rows:
        row = list(row)
        for i, process in convert:
            row[i] = process(row[i])
        out.append((*row, *tail))
    return out


def _marks(dialect, count: int) -> str:
    return ", ".join(("?" if dialect.paramstyle == "qmark" else "%s",) * count)


def _insert(conn, rows: list[tuple], now) -> None:
    names = (*FIELDS, "created_at", "updated_at")
    column_list = ", ".join(names)
    if is_postgres(conn):
        with (_integrity(conn), closing(conn.connection.driver_connection.cursor()) as cursor,
              cursor.copy(f"COPY households ({column_list}) FROM STDIN") as copy):
            for row in rows:
                copy.write_row((*row, now, now))
        return
    stamp = _bound(conn.dialect, "updated_at", now)
    params = _bind(conn.dialect, FIELDS, rows, (stamp, stamp))
    conn.exec_driver_sql(f"INSERT INTO households ({column_list}) VALUES ({_marks(conn.dialect, len(names))})", params)


def _update(conn, groups: dict[tuple[int, ...], list[tuple]], now) -> None:
    """Set the changed columns of each group (households whose same columns changed: usually
    one group, say the phone numbers) by primary key, in one statement per group. Only those
    columns are named, since SQLite rewrites every index on a column named in SET."""
    postgres = is_postgres(conn)
    stamp = now if postgres else _bound(conn.dialect, "updated_at", now)
    mark = _marks(conn.dialect, 1)
    for changed, group in groups.items():  # group: [(id, *new values of the changed columns)]
        names = [FIELDS[i] for i in changed]
        if postgres:  # the rows go to a temporary table by COPY, then one UPDATE ... FROM it
            column_list = ", ".join(names)
            settings = ", ".join(f"{name} = t.{name}" for name in names)
            with _integrity(conn), closing(conn.connection.driver_connection.cursor()) as cursor:
                cursor.execute(f"CREATE TEMPORARY TABLE household_import ON COMMIT DROP AS "
                               f"SELECT id, {column_list} FROM households WITH NO DATA")
                with cursor.copy(f"COPY household_import (id, {column_list}) FROM STDIN") as copy:
                    for row in group:
                        copy.write_row(row)
                cursor.execute(f"UPDATE households h SET {settings}, updated_at = %s FROM household_import t "
                               f"WHERE h.id = t.id", (stamp,))
                cursor.execute("DROP TABLE household_import")
            continue
        settings = ", ".join(f"{name} = {mark}" for name in (*names, "updated_at"))
        params = [(*new, stamp, household_id) for household_id, new in
                  zip((row[0] for row in group), _bind(conn.dialect, names, [row[1:] for row in group]), strict=True)]
        conn.exec_driver_sql(f"UPDATE households SET {settings} WHERE id = {mark}", params)


def _unique_violation(exc: sa.exc.IntegrityError) -> bool:
    """A duplicate key (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE failure), not another
    integrity error such as a village removed mid-import, which must not read as a duplicate."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


class _integrity:
    """Driver errors of the statements sent past SQLAlchemy, raised as SQLAlchemy's own, so
    the caller handles a unique violation the same way whichever path raised it."""

    def __init__(self, conn):
        self.dbapi = conn.dialect.loaded_dbapi

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and isinstance(exc, self.dbapi.IntegrityError):
            raise sa.exc.IntegrityError(None, None, exc) from exc
        return False

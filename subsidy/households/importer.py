"""Importing the household register from .xlsx (issue 2 "Households", API.md
"POST /households/import" and "Spreadsheet imports").

Rules:
- the first sheet is read row by row (openpyxl read-only); row 1 holds the headers, which may
  use full-width brackets; `村代码` is required when the importer sits above a village;
- every row is checked before anything is written; any error writes nothing and the answer
  lists each bad row, field (the Chinese column header) and reason;
- a row whose ID number is already registered in the importer's region updates that household,
  other rows create one; an ID number registered outside the region is an error (a village
  cannot take over another village's household);
- the writes are set-based (one bulk INSERT, one bulk UPDATE by primary key) and the import is
  one audit event `household.import` with the file's name and SHA-256, the counts, and for each
  changed household the fields before and after.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require
from subsidy.audit import service as audit
from subsidy.common.timeutil import utcnow
from subsidy.common.xlsx import (ImportResult, RowErrors, SheetReader, cell_text, check_filename, lost_digits, map_headers,
                                 spool_upload)
from subsidy.errors import Conflict
from subsidy.extensions import db
from subsidy.households.columns import COLUMNS, DIGIT_STRINGS, LABEL, VILLAGE_CODE, VILLAGE_NAME
from subsidy.households.models import Household
from subsidy.households.service import AUDITED_FIELDS
from subsidy.households.validation import CHECKERS
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import covers, within

MAX_IMPORT_ROWS = 100_000
LOOKUP_CHUNK = 900  # ID numbers per SELECT ... IN (...), under every database's parameter limit
VILLAGE_RE = re.compile(r"^\d{12}$")


def _villages_in_scope(actor) -> set[str]:
    return set(db.session.scalars(
        sa.select(Region.code).where(within(Region.code, actor.region_code), Region.level == Level.village)))


class _RowParser:
    """Turns one spreadsheet row into clean values, or reports why it cannot."""

    def __init__(self, actor, columns: dict[str, int], errors: RowErrors):
        self.actor = actor
        self.columns = columns
        self.errors = errors
        self.village_actor = len(actor.region_code) == 12
        self.villages = {actor.region_code} if self.village_actor else _villages_in_scope(actor)
        self.seen: dict[str, int] = {}  # ID number -> first row it appeared on

    def parse(self, number: int, cells: tuple) -> dict | None:
        values: dict = {}
        ok = True
        for column in COLUMNS:
            raw = cells[self.columns[column.key]]
            try:
                if column.key in DIGIT_STRINGS and lost_digits(raw):
                    raise ValueError(f"{column.header}被 Excel 当作数字保存，末几位已丢失：请把该列设为“文本”格式后重新填写")
                values[column.key] = CHECKERS[column.key](raw)
                if column.key == "id_number":
                    self._first_time(number, values["id_number"])
            except ValueError as exc:
                self.errors.add(number, column.header, str(exc))
                ok = False
        code = self._village(number, cells)
        if code is None:
            ok = False
        values["region_code"] = code
        return values if ok else None

    def _first_time(self, number: int, id_number: str) -> None:
        first = self.seen.setdefault(id_number, number)
        if first != number:
            raise ValueError(f"身份证号与第 {first} 行重复（第 {first} 行和第 {number} 行是同一个身份证号），一人只能登记一户")

    def _village(self, number: int, cells: tuple) -> str | None:
        header = VILLAGE_CODE.header
        index = self.columns.get("region_code")
        raw = cells[index] if index is not None else None
        if lost_digits(raw):
            self.errors.add(number, header, "村代码应为 12 位数字")
            return None
        text = cell_text(raw)
        if not text:
            if self.village_actor:
                return self.actor.region_code
            self.errors.add(number, header, "村代码不能为空：请填写该户所属村的 12 位代码")
            return None
        if not VILLAGE_RE.match(text):
            self.errors.add(number, header, "村代码应为 12 位数字")
            return None
        if text not in self.villages:
            if self.village_actor:
                self.errors.add(number, header, f"村代码应为本村代码 {self.actor.region_code}（只能导入本村农户）")
            else:
                self.errors.add(number, header, "村代码不是您辖区内的村，请核对")
            return None
        return text


def _existing(id_numbers: list[str]) -> dict[str, sa.Row]:
    """Registered households by ID number, looked up in chunks (one SELECT per chunk)."""
    cols = [Household.id, *(getattr(Household, f) for f in AUDITED_FIELDS)]
    found: dict[str, sa.Row] = {}
    for start in range(0, len(id_numbers), LOOKUP_CHUNK):
        chunk = id_numbers[start:start + LOOKUP_CHUNK]
        for row in db.session.execute(sa.select(*cols).where(Household.id_number.in_(chunk))):
            found[row.id_number] = row
    return found


def import_requirements(actor) -> dict:
    """What the import page tells the user: the headers expected of them."""
    require(actor, Perm.edit_households)
    needs_village = len(actor.region_code) != 12
    headers = [c.header for c in COLUMNS] + ([VILLAGE_CODE.header] if needs_village else [])
    return {"headers": headers, "needs_village_code": needs_village, "max_rows": MAX_IMPORT_ROWS}


def import_households(actor, fileobj, filename: str | None) -> ImportResult:
    """Check every row of the workbook, then create or update households in bulk; with any
    error, write nothing and return the errors (see the module docstring)."""
    require(actor, Perm.edit_households)
    check_filename(filename)
    spooled, sha256, size = spool_upload(fileobj)
    errors = RowErrors()
    with spooled, SheetReader(spooled) as sheet:
        if sheet.empty or not sheet.headers:
            errors.add(1, "", "文件是空的：第 1 行须为表头（户主姓名、身份证号……），请下载模板填写")
            return ImportResult.rejected(errors)
        required = [c.key for c in COLUMNS]
        if len(actor.region_code) != 12:
            required.append(VILLAGE_CODE.key)
        known = {c.header: c.key for c in (*COLUMNS, VILLAGE_CODE)}
        columns = map_headers(sheet.headers, known, required, ignored=[VILLAGE_NAME.header], errors=errors)
        if errors:
            return ImportResult.rejected(errors)
        parser = _RowParser(actor, columns, errors)
        rows: list[tuple[int, dict]] = []
        count = 0
        for number, cells in sheet:
            count += 1
            if count > MAX_IMPORT_ROWS:
                errors.add(number, "", f"一次最多导入 {MAX_IMPORT_ROWS} 行，请拆分文件")
                break
            values = parser.parse(number, cells)
            if values is not None:
                rows.append((number, values))
    if count == 0:
        errors.add(2, "", "文件中没有数据：请从第 2 行起每行填写一户")
        return ImportResult.rejected(errors)

    existing = _existing([values["id_number"] for _, values in rows])
    for number, values in rows:
        other = existing.get(values["id_number"])
        if other is not None and not covers(actor.region_code, other.region_code):
            errors.add(number, LABEL["id_number"],
                       "该身份证号已在其他村登记，不能通过导入转入；如确需迁户，请联系原所在村或乡镇")
    if errors:
        return ImportResult.rejected(errors, count)
    return _write(actor, rows, existing, filename=filename, sha256=sha256, size=size)


def _write(actor, rows, existing, *, filename, sha256, size) -> ImportResult:
    now = utcnow()
    inserts: list[dict] = []
    updates: list[dict] = []
    changes: list[dict] = []
    unchanged = 0
    for number, values in rows:
        old = existing.get(values["id_number"])
        if old is None:
            inserts.append({**values, "created_at": now, "updated_at": now})
            continue
        changed = {f: values[f] for f in AUDITED_FIELDS if getattr(old, f) != values[f]}
        if not changed:
            unchanged += 1
            continue
        updates.append({"id": old.id, **values, "updated_at": now})
        changes.append({"id": old.id, "row": number, "id_number": old.id_number,
                        "before": {f: getattr(old, f) for f in changed}, "after": changed})
    try:
        if inserts:
            db.session.execute(sa.insert(Household), inserts)
        if updates:
            db.session.execute(sa.update(Household), updates)
    except sa.exc.IntegrityError:
        # Another import or form registered one of these ID numbers since we looked.
        raise Conflict("导入时有身份证号刚被他人登记，请重新导入以查看具体行", code="duplicate") from None
    audit.record(actor, "household.import", "household", None, region_code=actor.region_code,
                 filename=filename, sha256=sha256, size=size, rows=len(rows), created=len(inserts),
                 updated=len(updates), unchanged=unchanged, changes=changes)
    db.session.flush()
    return ImportResult(created=len(inserts), updated=len(updates), unchanged=unchanged, rows=len(rows))

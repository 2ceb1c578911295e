"""The county's watch list (比对名单): deceased persons, people on the public payroll, village
cadres and their relatives (docs/design.md risk checks; docs/api.md POST /watchlist/import).

Import rules, as the household import: the first sheet, headers 身份证号, 姓名, 类别, 来源 in
row 1; every row is checked first and any error writes nothing, answering {row, field, message}
per error; a row whose (ID number, category) is already on the county's list updates its name
and source, other rows are created. Writes are set-based (one bulk INSERT, one bulk UPDATE) and
the import is one audit event with the file's SHA-256."""
from __future__ import annotations

import contextlib

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require, requires
from subsidy.audit import service as audit
from subsidy.common.database import read_phase
from subsidy.common.limits import WATCHLIST
from subsidy.common.pagination import Page, paginate
from subsidy.common.text import has_forbidden, invisible_message
from subsidy.common.timeutil import utcnow
from subsidy.common.xlsx import (
    ImportResult,
    RowErrors,
    SheetReader,
    cell_text,
    check_filename,
    lost_digits,
    map_headers,
    spool_upload,
)
from subsidy.errors import Conflict, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import WatchCategory, WatchListEntry
from subsidy.households.validation import check_id_number
from subsidy.regions.scope import county_scope, within
from subsidy.regions.service import county_only_code

HEADERS = {"身份证号": "id_number", "姓名": "name", "类别": "category", "来源": "source"}
LABEL = {v: k for k, v in HEADERS.items()}
CATEGORY_BY_LABEL = WatchCategory.by_label()  # 类别 as the county's file writes it
MAX_ROWS = WATCHLIST.rows
CHUNK = 900


def _parse_row(number: int, cells: tuple, columns: dict[str, int], errors: RowErrors, seen: dict) -> dict | None:
    values: dict = {}
    ok = True
    raw_id = cells[columns["id_number"]]
    try:
        if lost_digits(raw_id):
            raise ValueError("身份证号被 Excel 当作数字保存，末几位已丢失：请把该列设为“文本”格式后重新填写")
        values["id_number"] = check_id_number(raw_id)
    except ValueError as exc:
        errors.add(number, LABEL["id_number"], str(exc))
        ok = False
    name = cell_text(cells[columns["name"]])
    if not name:
        errors.add(number, LABEL["name"], "姓名不能为空")
        ok = False
    elif len(name) > 40 or has_forbidden(name):
        errors.add(number, LABEL["name"], "姓名不超过 40 字" if len(name) > 40 else invisible_message("姓名"))
        ok = False
    values["name"] = name
    label = cell_text(cells[columns["category"]]).replace(" ", "")
    category = CATEGORY_BY_LABEL.get(label)
    if category is None:
        errors.add(number, LABEL["category"], f"类别应为 {'、'.join(str(c.label) for c in WatchCategory)} 之一")
        ok = False
    values["category"] = category
    source = cell_text(cells[columns["source"]]) if "source" in columns else ""
    if len(source) > 80:
        errors.add(number, LABEL["source"], "来源不超过 80 字")
        ok = False
    values["source"] = source
    if ok:
        key = (values["id_number"], category)
        first = seen.setdefault(key, number)
        if first != number:
            errors.add(number, LABEL["id_number"], f"与第 {first} 行重复（同一身份证号、同一类别）")
            ok = False
    return values if ok else None


@requires(Perm.manage_watchlist)
def import_watchlist(actor, fileobj, filename: str | None) -> ImportResult:
    """Read and check the file in the read phase (no write lock held on SQLite), then, in the
    write phase, look up what the county's list holds now and insert or update."""
    with read_phase():
        if fileobj is None or not filename:
            raise ValidationError("请选择要上传的 .xlsx 文件", fields={"file": "请选择文件"})
        check_filename(filename)
        spooled, sha256, size = spool_upload(fileobj)
        errors = RowErrors()
        rows: list[dict] = []
        count = 0
        with spooled, SheetReader(spooled, WATCHLIST) as sheet:
            if sheet.empty or not sheet.headers:
                errors.add(1, "", "文件是空的：第 1 行须为表头（身份证号、姓名、类别、来源）")
                return ImportResult.rejected(errors)
            columns = map_headers(sheet.headers, HEADERS, ["id_number", "name", "category"], errors=errors)
            if errors:
                return ImportResult.rejected(errors)
            seen: dict = {}
            for number, cells in sheet:  # at most MAX_ROWS: the reader refuses more
                count += 1
                values = _parse_row(number, cells, columns, errors, seen)
                if values is not None:
                    rows.append(values)
        if count == 0:
            errors.add(2, "", "文件中没有数据：请从第 2 行起每行填写一人")
        if errors:
            return ImportResult.rejected(errors, count)

    require(actor, Perm.manage_watchlist)
    county = county_only_code(actor)
    try:
        created, updated = _upsert(actor, county, rows)
    except sa.exc.IntegrityError as exc:
        # PostgreSQL: another import of the county listed one of these people since we looked.
        if getattr(exc.orig, "sqlstate", None) != "23505" and "UNIQUE constraint failed" not in str(exc.orig):
            raise
        raise Conflict("导入时名单刚被他人更新，请重新导入", code="duplicate") from None
    result = ImportResult(created=created, updated=updated, rows=count)
    audit.record(actor, "watchlist.import", "watchlist", county, region_code=county, filename=filename or "",
                 sha256=sha256, size=size, created=result.created, updated=result.updated, rows=count)
    return result


def _upsert(actor, county: str, rows: list[dict]) -> tuple[int, int]:
    existing: dict[tuple, tuple] = {}
    ids = sorted({r["id_number"] for r in rows})
    for start in range(0, len(ids), CHUNK):
        stmt = sa.select(WatchListEntry.id, WatchListEntry.id_number, WatchListEntry.category, WatchListEntry.name,
                         WatchListEntry.source).where(WatchListEntry.county_code == county,
                                                      WatchListEntry.id_number.in_(ids[start:start + CHUNK]))
        for row in db.session.execute(stmt):
            existing[(row.id_number, row.category)] = row
    now = utcnow()
    inserts, updates = [], []
    for r in rows:
        old = existing.get((r["id_number"], r["category"]))
        if old is None:
            inserts.append({"county_code": county, **r, "created_at": now, "updated_at": now, "imported_by": actor.id})
        elif (old.name, old.source) != (r["name"], r["source"]):
            updates.append({"id": old.id, "name": r["name"], "source": r["source"], "updated_at": now,
                            "imported_by": actor.id})
    if inserts:
        db.session.execute(sa.insert(WatchListEntry), inserts)
    if updates:
        db.session.execute(sa.update(WatchListEntry), updates)
    db.session.flush()
    return len(inserts), len(updates)


@requires(Perm.manage_watchlist)
def list_watchlist(actor, *, q: str | None = None, category: str | None = None, page=1, per_page=50) -> Page:
    stmt = sa.select(WatchListEntry).where(within(WatchListEntry.county_code, county_scope(actor.region_code)))
    q = (q or "").strip()
    if q:
        stmt = stmt.where(sa.or_(WatchListEntry.name.contains(q), WatchListEntry.id_number.startswith(q.upper())))
    if category:
        with contextlib.suppress(ValueError):
            stmt = stmt.where(WatchListEntry.category == WatchCategory(category))
    return paginate(stmt.order_by(WatchListEntry.id), page, per_page)

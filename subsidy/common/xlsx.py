"""Spreadsheet plumbing shared by every .xlsx import and export (households, watch list, bank files).

docs/api.md "Spreadsheet imports": the first sheet is read, its first row holds the column headers,
rows are numbered as in the spreadsheet (the first data row is row 2). Files are read with
openpyxl's read-only mode, one row at a time, so a large file never sits in memory as a
workbook; exports are written in write-only mode from an iterator of rows.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError

from flask_babel.speaklater import LazyString
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from subsidy.common.limits import DEFAULT as DEFAULT_LIMITS
from subsidy.common.limits import REPORTED_ROWS, SheetLimits
from subsidy.common.text import clean_cell
from subsidy.common.xlsx_safety import (
    NOT_A_WORKBOOK,
    broken_file,
    cell_message,
    check_archive,
    column_message,
    refuse,
    rows_message,
)
from subsidy.errors import DomainError, ValidationError

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Row results kept for the answer; the total is still counted beyond this.
MAX_REPORTED_ERRORS = REPORTED_ROWS
# Excel keeps 15 significant digits of a number: an 18-digit ID number or a 19-digit bank
# account typed as a number has lost its last digits before it ever reaches us.
EXACT_DIGITS_LIMIT = 10**15

_SPACES = re.compile(r"[\s\u3000]+")
_FULLWIDTH = str.maketrans({"（": "(", "）": ")", "：": ":"})
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F0F3F7")


class UploadTooLarge(DomainError):
    """The request body exceeded MAX_CONTENT_LENGTH (docs/api.md: 413)."""

    status = 413
    code = "too_large"


def normalize_header(value) -> str:
    """Header text as compared: spaces removed, full-width brackets made half-width, so
    `耕地面积（亩）` and `耕地面积 (亩)` both match `耕地面积(亩)`."""
    if value is None:
        return ""
    return _SPACES.sub("", str(value)).translate(_FULLWIDTH)


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value) -> str:
    """A cell as the text a person typed: integral floats lose their `.0`, spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def lost_digits(value) -> bool:
    """True when a number cell is too long to have kept its digits (see EXACT_DIGITS_LIMIT)."""
    return isinstance(value, float) and abs(value) >= EXACT_DIGITS_LIMIT


# ---------------------------------------------------------------- reading

# What parsing a hostile or broken part can raise, from zipfile, zlib, expat (ParseError),
# defusedxml (a ValueError) or openpyxl's conversions (a shared string index out of range,
# a date that is not one, a cell reference that is not one).
UNREADABLE = (zipfile.BadZipFile, InvalidFileException, ParseError, KeyError, IndexError, ValueError, TypeError,
              OverflowError, EOFError, OSError, zlib.error)
# The caps a SheetReader built without its own takes (see sheet_limits).
_LIMITS: ContextVar[SheetLimits | None] = ContextVar("subsidy_sheet_limits", default=None)


@contextmanager
def sheet_limits(limits: SheetLimits):
    """The caps of SheetReaders made inside the block without their own: for a reader built by
    code that does not pass them (the bank result parser, `payments.files`)."""
    token = _LIMITS.set(limits)
    try:
        yield
    finally:
        _LIMITS.reset(token)


@dataclass
class RowErrors:
    """Errors of an import, in the API shape {row, field, message}, capped for the answer."""

    items: list[dict] = field(default_factory=list)
    total: int = 0
    limit: int = MAX_REPORTED_ERRORS

    def add(self, row: int, field_name: str, message: str) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append({"row": row, "field": field_name, "message": message})

    def __bool__(self) -> bool:
        return self.total > 0

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda e: e["row"])


@dataclass
class ImportResult:
    """The answer of an all-or-nothing spreadsheet import (docs/api.md: {created, updated, errors})."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    # Rows accepted that a person should look at again (e.g. an ID code younger than its holder).
    warnings: list[dict] = field(default_factory=list)
    warning_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @classmethod
    def rejected(cls, errors: RowErrors, rows: int = 0, warnings: RowErrors | None = None) -> ImportResult:
        return cls(rows=rows, errors=errors.sorted(), error_count=errors.total,
                   warnings=warnings.sorted() if warnings else [], warning_count=warnings.total if warnings else 0)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rows": self.rows, "errors": self.errors, "error_count": self.error_count,
                "warnings": self.warnings, "warning_count": self.warning_count}


def spool_upload(fileobj, chunk: int = 1 << 20):
    """Copy an upload to a seekable temporary file (zip needs to seek) while hashing it.
    Returns (file positioned at 0, sha256 hex digest, size in bytes)."""
    digest = hashlib.sha256()
    spooled = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - returned open to the caller
    size = 0
    while True:
        block = fileobj.read(chunk)
        if not block:
            break
        digest.update(block)
        spooled.write(block)
        size += len(block)
    spooled.seek(0)
    return spooled, digest.hexdigest(), size


def check_filename(filename: str | None) -> None:
    name = (filename or "").lower()
    if name.endswith((".xls", ".et", ".csv", ".wps")):
        raise ValidationError("只支持 .xlsx 格式，请在 Excel 或 WPS 中“另存为” .xlsx 后再上传",
                              fields={"file": "请上传 .xlsx 文件"})
    if name and not name.endswith((".xlsx", ".xlsm")):
        raise ValidationError("请上传 .xlsx 格式的 Excel 文件", fields={"file": "请上传 .xlsx 文件"})


class SheetReader:
    """The first worksheet of an .xlsx file, read one row at a time.

    `headers` is the normalised first row (trailing empty cells dropped); iterating yields
    (row_number, values) for each data row that is not entirely blank, values padded or cut
    to the header width. Use as a context manager so the zip archive is closed.

    Nothing of the file is parsed before its archive has passed `check_archive` against
    `limits` (the import's caps, `subsidy.common.limits`; without them those `sheet_limits`
    set, else the default); rows, columns and cell lengths beyond them are refused as they
    are read, and a part that does not parse is a bad file: all a ValidationError (400)."""

    def __init__(self, fileobj, limits: SheetLimits | None = None):
        self.limits = limits = limits or _LIMITS.get() or DEFAULT_LIMITS
        check_archive(fileobj, limits)
        self._wb = self._rows = None
        try:
            self._wb = load_workbook(fileobj, read_only=True, data_only=True)
        except UNREADABLE as exc:
            raise ValidationError(NOT_A_WORKBOOK, fields={"file": "文件不是有效的 .xlsx 工作簿"}) from exc
        if not self._wb.worksheets:
            self.close()
            raise ValidationError("工作簿中没有工作表", fields={"file": "工作簿中没有工作表"})
        ws = self._wb.worksheets[0]
        # A sheet's stored dimension may be wrong (some generators write "A1"); reading
        # without it goes on to the real last row. One column past the cap is read, to see
        # whether anything is there; openpyxl drops whatever lies further right.
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()
        self._rows = ws.iter_rows(values_only=True, max_col=limits.columns + 1)
        try:
            first = next(self._rows, None)
            if first is not None:
                first = self._checked(1, first, limits.columns)
        except UNREADABLE as exc:
            self.close()
            raise broken_file() from exc
        except ValidationError:
            self.close()
            raise
        raw = list(first or ())
        while raw and is_blank(raw[-1]):
            raw.pop()
        self.raw_headers = [cell_text(v) for v in raw]
        self.headers = [normalize_header(v) for v in raw]
        self.empty = first is None

    def _checked(self, number: int, values: tuple, width: int) -> tuple:
        """`values` cut to `width`, after the caps: nothing past the last column allowed, no
        text longer than a cell may be."""
        limits = self.limits
        extra = values[limits.columns] if len(values) > limits.columns else None
        if extra is not None and not (isinstance(extra, str) and not extra.strip()):
            raise refuse(column_message(number, limits, get_column_letter(limits.columns + 1)))
        if len(values) != width:
            values = (tuple(values) + (None,) * width)[:width]
        chars = limits.cell_chars
        for index, value in enumerate(values):
            if value.__class__ is str and len(value) > chars:
                raise refuse(cell_message(number, get_column_letter(index + 1), len(value), limits))
        return values

    def __iter__(self) -> Iterator[tuple[int, tuple]]:
        # Runs once per row of files up to 100,000 rows: kept to plain loops.
        width = len(self.headers)
        limits = self.limits
        columns, chars, allowed = limits.columns, limits.cell_chars, limits.rows
        # Blank rows do not count, but each costs a little: a sheet may not run on past twice
        # the rows it may hold.
        last_row = 2 * allowed + 1
        count = 0
        try:
            for number, values in enumerate(self._rows, start=2):
                if number > last_row:
                    raise refuse(rows_message(limits))
                # Rows come as wide as the cap plus one column (see __init__).
                if len(values) > columns and values[columns] is not None:
                    self._checked(number, values, width)  # refused unless that cell is blank text
                if len(values) != width:
                    values = (values + (None,) * width)[:width]
                for value in values:
                    if value is not None and not (isinstance(value, str) and not value.strip()):
                        break
                else:
                    continue  # an entirely blank row
                for value in values:
                    if value.__class__ is str and len(value) > chars:
                        self._checked(number, values, width)  # refuses it
                count += 1
                if count > allowed:
                    raise refuse(rows_message(limits))
                yield number, values
        except UNREADABLE as exc:
            raise broken_file() from exc

    def close(self) -> None:
        wb, self._wb, self._rows = self._wb, None, None
        if wb is not None:
            wb.close()
            # Each sheet holds every distinct text of the file (its shared strings, tens of MB
            # in a large file) and is held by the workbook it points back to: taken out, it is
            # freed now rather than at the next full garbage collection.
            for ws in list(wb.worksheets):
                wb.remove(ws)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def map_headers(headers: list[str], known: dict[str, str], required: Iterable[str],
                ignored: Iterable[str] = (), errors: RowErrors | None = None) -> dict[str, int]:
    """Match the header row against `known` {header text: key}. Returns {key: column index};
    missing required, unknown and repeated headers are reported as errors of row 1."""
    errors = errors if errors is not None else RowErrors()
    ignored = {normalize_header(h) for h in ignored}
    lookup = {normalize_header(h): key for h, key in known.items()}
    label = {key: h for h, key in known.items()}
    columns: dict[str, int] = {}
    for index, header in enumerate(headers):
        if not header or header in ignored:
            continue
        key = lookup.get(header)
        if key is None:
            errors.add(1, header, f"不认识的列“{header}”：请使用模板中的表头")
        elif key in columns:
            errors.add(1, header, f"“{header}”列出现了两次")
        else:
            columns[key] = index
    for key in required:
        if key not in columns:
            errors.add(1, label[key], f"缺少“{label[key]}”列：第 1 行须为表头，请使用模板")
    return columns


# ---------------------------------------------------------------- writing


def _cell(ws, value: str):
    """A text cell as written. Characters that openpyxl refuses (C0 controls: IllegalCharacterError,
    which once broke every register export over one pasted \\x00) or that hide what a cell shows
    are removed (`subsidy.common.text.clean_cell`), so what is already stored always exports.
    Text that starts with '=' stays text, never a formula (a name typed as '=HYPERLINK(...)'
    must not run in whoever opens the export). Text starting with '+', '-' or '@' needs nothing:
    openpyxl writes it as a string cell, which Excel and WPS show as text and never evaluate
    (unlike a CSV field, which they parse; see `subsidy.common.csvfile`)."""
    value = clean_cell(value)
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_workbook(sheet_title: str, headers: list[str], rows: Iterable[Iterable], *,
                   widths: dict[int, float] | None = None, text_columns: Iterable[int] = ()):
    """Stream `rows` into a one-sheet workbook (openpyxl write-only mode) and return a
    temporary file positioned at 0. Columns in `text_columns` (0-based) are formatted as
    text so that long digit strings stay intact when a person edits and re-imports."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet_title)
    for index, width in (widths or {}).items():
        ws.column_dimensions[get_column_letter(index + 1)].width = width
    text_columns = set(text_columns)
    for index in text_columns:
        ws.column_dimensions[get_column_letter(index + 1)].number_format = "@"
    ws.freeze_panes = "A2"
    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(ws, value=str(title))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows:
        ws.append([_cell(ws, v) if v.__class__ is str else _cell(ws, str(v)) if isinstance(v, LazyString) else v
                   for v in row])
    out = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open to the caller
    wb.save(out)
    out.seek(0)
    return out


def style_header_row(ws, headers: list[str], widths: dict[int, float], text_columns: Iterable[int] = (),
                     text_rows: int = 0) -> None:
    """For small, normal-mode workbooks (templates): bold header, widths, text columns. The text
    columns carry the text format on the column and, for the first `text_rows` rows, on each
    cell: WPS and older Excel ignore a column's format, and an 18-digit ID number typed into a
    General cell loses its last three digits (6.42226E+17) before anyone notices."""
    ws.append(headers)
    for index, _title in enumerate(headers):
        cell = ws.cell(row=1, column=index + 1)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
    for index, width in widths.items():
        ws.column_dimensions[get_column_letter(index + 1)].width = width
    for index in text_columns:
        ws.column_dimensions[get_column_letter(index + 1)].number_format = "@"
        for number in range(2, text_rows + 2):
            ws.cell(row=number, column=index + 1).number_format = "@"
    ws.freeze_panes = "A2"


def save_to_temp(wb: Workbook):
    out = tempfile.SpooledTemporaryFile(max_size=4 << 20)  # noqa: SIM115 - returned open to the caller
    wb.save(out)
    out.seek(0)
    return out


def send_xlsx(fileobj, download_name: str):
    """A download response for a workbook file (non-ASCII names are encoded per RFC 6266)."""
    from flask import send_file

    return send_file(fileobj, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=download_name,
                     max_age=0)


def require_file(fileobj, field_name: str = "file") -> None:
    """An import needs a file: said after the importer's rights were checked (an upload without
    one must not tell a user without the right anything else first)."""
    if fileobj is None:
        raise ValidationError("请选择要上传的文件", fields={field_name: "请选择文件"})


def read_upload(field_name: str = "file", *, required: bool = True):
    """The uploaded file of a multipart request, with Chinese answers for the usual mistakes;
    None when there is none and it is not `required` (the service then says so, after it has
    checked the user's rights: see `require_file`)."""
    from flask import current_app, request
    from werkzeug.exceptions import RequestEntityTooLarge

    try:
        upload = request.files.get(field_name)
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        raise UploadTooLarge(f"上传的文件太大（上限 {limit // (1 << 20)} MB）",
                             fields={field_name: "文件太大"}) from None
    if upload is None or not upload.filename:
        if not required:
            return None
        raise ValidationError("请选择要上传的 .xlsx 文件", fields={field_name: "请选择文件"})
    return upload


__all__ = [
    "MAX_REPORTED_ERRORS", "RowErrors", "SheetReader", "UploadTooLarge", "XLSX_MIMETYPE", "cell_text",
    "check_filename", "is_blank", "lost_digits", "map_headers", "normalize_header", "read_upload", "require_file",
    "save_to_temp", "send_xlsx", "spool_upload", "style_header_row", "write_workbook",
]

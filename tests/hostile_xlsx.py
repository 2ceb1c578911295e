"""Real .xlsx files, written part by part, that a probe of the imports would send: zip bombs,
huge shared strings, too many rows or columns, long cells, entity declarations, broken XML.

`workbook()` writes a minimal workbook that Excel and openpyxl open (content types, package
and workbook relationships, the workbook, one worksheet, optionally shared strings); every
hostile file is one of those with one part made hostile. Rows are lists of values: str (an
inline string, or a shared one with `shared=True`), int/float (a number) or None (no cell)."""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _content_types(shared: bool) -> bytes:
    strings = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
               'spreadsheetml.sharedStrings+xml"/>') if shared else ""
    return XML_DECL + (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/>' + strings + '</Types>').encode()


def _package_rels() -> bytes:
    return XML_DECL + (f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
                       'Target="xl/workbook.xml"/></Relationships>').encode()


def _workbook() -> bytes:
    return XML_DECL + (f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Sheet1" sheetId="1" '
                       'r:id="rId1"/></sheets></workbook>').encode()


def _workbook_rels(shared: bool) -> bytes:
    strings = f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>' if shared else ""
    return XML_DECL + (f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" Type="{REL}/worksheet" '
                       f'Target="worksheets/sheet1.xml"/>{strings}</Relationships>').encode()


class _Strings:
    def __init__(self):
        self.index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        return self.index.setdefault(text, len(self.index))

    def xml(self, extra: Iterable[bytes] = ()) -> Iterable[bytes]:
        yield XML_DECL
        yield f'<sst xmlns="{MAIN}" count="{len(self.index)}" uniqueCount="{len(self.index)}">'.encode()
        for text in self.index:
            yield f"<si><t>{escape(text)}</t></si>".encode()
        yield from extra
        yield b"</sst>"


def _cell(ref: str, value, strings: _Strings | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        if strings is not None:
            return f'<c r="{ref}" t="s"><v>{strings.ref(value)}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _rows_xml(rows: Iterable[list], strings: _Strings | None, start: int = 1) -> Iterable[bytes]:
    letters: dict[int, str] = {}
    for number, row in enumerate(rows, start=start):
        if row is None:
            continue
        cells = []
        for index, value in enumerate(row, start=1):
            if value is None:
                continue
            letter = letters.get(index) or letters.setdefault(index, get_column_letter(index))
            cells.append(_cell(f"{letter}{number}", value, strings))
        yield f'<row r="{number}">{"".join(cells)}</row>'.encode()


def workbook(rows: Iterable[list], *, shared: bool = False, prolog: bytes = XML_DECL, sheet_tail: bytes | None = None,
             padding: int = 0, strings_extra: Iterable[bytes] = (), strings_prolog: bytes = XML_DECL,
             parts: dict[str, bytes] | None = None, level: int = 6) -> io.BytesIO:
    """One worksheet of `rows` (row 1 first). `prolog`: what opens the sheet part (a DOCTYPE
    goes here); `padding`: bytes of whitespace between its rows (a ratio bomb); `sheet_tail`:
    what closes it (None: the proper end; b"": nothing, a truncated part); `strings_extra`:
    more <si> items at the end of the shared strings; `parts`: more members, or replacements."""
    strings = _Strings() if shared else None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _content_types(shared))
        archive.writestr("_rels/.rels", _package_rels())
        archive.writestr("xl/workbook.xml", _workbook())
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(shared))
        with archive.open(SHEET, "w", force_zip64=True) as sheet:
            # A dimension, as Excel writes one (openpyxl reads it when it opens the workbook and
            # parses the sheet no further then; this one is wrong, as some generators write it).
            sheet.write(prolog + f'<worksheet xmlns="{MAIN}"><dimension ref="A1"/><sheetData>'.encode())
            chunk = []
            for piece in _rows_xml(rows, strings):
                chunk.append(piece)
                if len(chunk) >= 2000:
                    sheet.write(b"".join(chunk))
                    chunk = []
            sheet.write(b"".join(chunk))
            while padding > 0:
                step = min(padding, 1 << 20)
                sheet.write(b" " * step)
                padding -= step
            sheet.write(b"</sheetData></worksheet>" if sheet_tail is None else sheet_tail)
        if strings is not None:
            with archive.open(STRINGS, "w", force_zip64=True) as part:
                first = True
                for piece in strings.xml(strings_extra):
                    part.write(strings_prolog if first else piece)
                    first = False
        for name, data in (parts or {}).items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


# ---------------------------------------------------------------- the hostile files


def ratio_bomb(headers: list, row: list, mb: int = 8) -> io.BytesIO:
    """A few rows, then `mb` MB of blanks in the sheet: it compresses about 1,000 to 1."""
    return workbook([headers, row], padding=mb << 20)


def huge_shared_string(headers: list, row: list, mb: int = 40) -> io.BytesIO:
    """The probe's file: a shared string of `mb` MB (the same character over and over: a few
    tens of KB compressed), used in the first cell of the data row."""
    text = "惠" * ((mb << 20) // 3)
    return workbook([headers, [text, *row[1:]]], shared=True)


_FOUR_LETTERS = bytes(b"acgt"[i % 4] for i in range(256))


def incompressible_shared_strings(headers: list, row: list, mb: float) -> io.BytesIO:
    """Shared strings of `mb` MB that compress only about 4:1 (random letters of four, in
    strings of 1,000): a size refused for what it is, not for its ratio."""
    size = int(mb * (1 << 20))
    letters = os.urandom(size).translate(_FOUR_LETTERS)
    extra = (b"<si><t>" + letters[i:i + 1000] + b"</t></si>" for i in range(0, len(letters), 1000))
    return workbook([headers, row], shared=True, strings_extra=extra, level=1)


def too_many_rows(headers: list, row_of, count: int) -> io.BytesIO:
    """`count` data rows made by row_of(i)."""
    return workbook(_chain([headers], (row_of(i) for i in range(count))))


def too_wide(headers: list, row: list, column: int) -> io.BytesIO:
    """A data row with something in `column` (1-based), far right of the headers."""
    wide = list(row) + [None] * (column - 1 - len(row)) + ["备注"]
    return workbook([headers, wide])


def long_cell(headers: list, row: list, chars: int, index: int = 0) -> io.BytesIO:
    cells = list(row)
    cells[index] = "长" * chars
    return workbook([headers, cells])


BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                  + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b"]>\n")


def billion_laughs(headers: list, row: list) -> io.BytesIO:
    """The sheet opens with nested entity declarations (10^9 "lol"s) and a cell uses them."""
    cells = list(row)
    cells[0] = None
    book = workbook([headers, cells], prolog=BILLION_LAUGHS)
    cell = b'<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c>'
    return _replace(book, SHEET, lambda xml: xml.replace(b'<row r="2">', cell))


def external_entity(headers: list, row: list) -> io.BytesIO:
    """The shared strings declare an external entity (a file of the server) and use it."""
    prolog = XML_DECL.replace(b' standalone="yes"', b"") + b'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    return workbook([headers, row], shared=True, strings_prolog=prolog,
                    strings_extra=[b"<si><t>&xxe;</t></si>"])


def broken_sheet(headers: list, rows: list[list]) -> io.BytesIO:
    """The sheet part stops in the middle of a row: not well-formed XML."""
    book = workbook([headers, *rows], sheet_tail=b"")
    return _replace(book, SHEET, lambda xml: xml[:-20])


def _replace(book: io.BytesIO, name: str, change) -> io.BytesIO:
    source = zipfile.ZipFile(book)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, change(data) if info.filename == name else data)
    out.seek(0)
    return out


def _chain(*parts):
    for part in parts:
        yield from part

"""Every CSV the platform writes goes through here: cells that Excel or WPS would run as a
formula are neutralised, long digit strings stay text, control characters are removed.

Formulas (OWASP "CSV injection"): a text cell starting with = + - @, a tab or a carriage return
is written with a leading apostrophe, so a name typed as `=HYPERLINK(...)`, `+cmd|' /C calc'!A0`,
`@SUM(...)` or `-2+3+cmd|...` is shown as the text it is and never evaluated. Numbers are never
touched: an amount is handed to the writer as a Decimal and written as a bare number, so a
negative amount stays `-5.00`; text that is exactly a plain number (`-5.00`) cannot be a formula
and is left as it is too.

Long digit strings (ID numbers, 一卡通 accounts, 交易流水号): Excel keeps 15 significant digits
and shows anything longer than 11 in scientific notation, so an 18-digit ID number or a 19-digit
account opened from a CSV loses its last digits when the file is saved again. They are written
with a leading TAB, the convention Chinese payroll and bank batch (代发) CSV exports use: Excel
and WPS then keep the cell as text, and a bank's import, which reads the file as text, trims the
whitespace around each field (as our own 回盘 reader does, `subsidy.common.xlsx.cell_text`). An
apostrophe would not do here: it is a marker only when typed into Excel, and in a CSV it stays
part of the value for every other reader, so a bank system would see `'6231…` and refuse the
account. `="6231…"` is refused for the same reason, and because it is itself a formula. The
.xlsx batch file, whose account and ID columns are typed as text, remains the format to give a
bank that takes either.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable

from subsidy.common.text import clean_cell

CSV_MIMETYPE = "text/csv"  # Werkzeug adds "; charset=utf-8" to text/* types: never add it twice
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
# Digits Excel would mangle: 12 or more (scientific notation, lost digits past 15) or a leading
# zero it would drop; an ID number's final X included.
_KEEP_AS_TEXT = re.compile(r"^(?:\d{12,}|0\d+)[Xx]?$")


def safe_text(value: str) -> str:
    """A text cell as it may go into a CSV file."""
    value = clean_cell(value)
    if _KEEP_AS_TEXT.match(value):
        return "\t" + value
    if value.lstrip(" ").startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value.strip(" ")):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    return [safe_text(v) if isinstance(v, str) else v for v in row]


def write_csv(headers: list[str], rows: Iterable[Iterable]):
    """A UTF-8 CSV with a byte-order mark (Excel and WPS then read it as Chinese text), CRLF line
    ends, every text cell quoted and made safe; numbers (int, Decimal) written bare. Returns a
    temporary file positioned at 0."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(safe_row(headers))
    for row in rows:
        writer.writerow(safe_row(row))
    out = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open to the caller
    out.write(text.getvalue().encode("utf-8-sig"))
    out.seek(0)
    return out

"""The caps of every spreadsheet import, in one place.

An .xlsx file is a zip archive of XML parts; the upload limit (MAX_CONTENT_LENGTH) bounds the
archive, not what it unpacks to: a 300 KB file can hold a 300 MB text (compression ratios of
1,000 are easy), and a sheet of a million rows or of cells 16,384 columns wide fits in a few
MB. So each import states what its largest honest file holds, and the reading code
(`subsidy.common.xlsx`) refuses anything bigger, the archive's sizes before any XML is parsed
(uncompressed size of each part and of all, compression ratio, number of parts), then rows,
columns and the length of a cell as it reads.

The sizes are those of honest files with room to spare: a 100,000-row household register as
Excel saves it holds a 27 MB sheet and 12 MB of shared strings, at a compression ratio of 8–11.
"""
from __future__ import annotations

from dataclasses import dataclass

MB = 1 << 20


@dataclass(frozen=True)
class SheetLimits:
    rows: int                  # data rows (not blank), after the header row
    columns: int               # columns that may hold anything
    cell_chars: int            # characters of one cell
    sheet_bytes: int           # a worksheet part, uncompressed
    shared_strings_bytes: int  # the shared-strings part (every distinct text of the file), uncompressed
    part_bytes: int = 8 * MB   # any other part openpyxl reads (workbook, styles, theme, relationships…)
    parts: int = 200           # members of the archive
    ratio: int = 100           # uncompressed ÷ compressed, of each part larger than RATIO_FLOOR

    @property
    def total_bytes(self) -> int:
        """All parts together, uncompressed."""
        return self.sheet_bytes + self.shared_strings_bytes + 16 * self.part_bytes


# A part smaller than this may compress as well as it likes: it cannot hurt.
RATIO_FLOOR = 1 * MB
# The first bytes of an XML part that may come before its root element (the XML declaration):
# an honest part opens its root element within its first hundred bytes.
PROLOG_BYTES = 64 * 1024

# The household register (bench/bench_households.py imports 100,000 rows): 7 columns of the template,
# some room for a clerk's own notes; names, numbers and codes are short.
HOUSEHOLDS = SheetLimits(rows=100_000, columns=30, cell_chars=500, sheet_bytes=128 * MB,
                         shared_strings_bytes=32 * MB)
# The county's watch list: its deceased, public payroll, cadres and their relatives are tens
# of thousands at most; the import updates what is listed, so a larger list loads in parts.
WATCHLIST = SheetLimits(rows=50_000, columns=20, cell_chars=500, sheet_bytes=64 * MB, shared_strings_bytes=16 * MB)
# A year's working-day calendar: at most one row a day.
CALENDAR = SheetLimits(rows=366, columns=10, cell_chars=200, sheet_bytes=1 * MB, shared_strings_bytes=1 * MB)
# The bank's result file (回盘) of one payment batch: at most what a batch can hold,
# payments.ids.MAX_SEQ payments, and its 合计 row. Bank files carry more columns than ours.
BANK_RESULTS = SheetLimits(rows=999_999 + 1, columns=40, cell_chars=500, sheet_bytes=512 * MB,
                           shared_strings_bytes=192 * MB)
# An import that names no limits of its own.
DEFAULT = SheetLimits(rows=10_000, columns=50, cell_chars=1000, sheet_bytes=16 * MB, shared_strings_bytes=8 * MB)

# Reports kept in the database or shown on a page list this many rows; the rest are counted.
REPORTED_ROWS = 500

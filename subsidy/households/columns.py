"""The register's spreadsheet columns, shared by the import, the template and the export so
that an export can be re-imported unchanged (docs/api.md "Spreadsheet imports")."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    width: float
    text: bool = False  # formatted as text in the files we write (long digit strings)


COLUMNS = (
    Column("户主姓名", "head_name", 12),
    Column("身份证号", "id_number", 22, text=True),
    Column("手机号码", "phone", 15, text=True),
    Column("一卡通账号", "payout_account", 24, text=True),
    Column("家庭人口", "members", 10),
    Column("耕地面积(亩)", "land_area_mu", 14),
)
VILLAGE_CODE = Column("村代码", "region_code", 16, text=True)
# A household's recorded fields, in one order: what an import compares and writes, and what the
# audit trail records before and after a change.
FIELDS = (VILLAGE_CODE.key, *(c.key for c in COLUMNS))
VILLAGE_NAME = Column("村名", "village_name", 14)  # written by the export, ignored by the import

HEADERS = [c.header for c in COLUMNS]
LABEL = {c.key: c.header for c in (*COLUMNS, VILLAGE_CODE)}
# Columns whose numbers Excel would corrupt beyond 15 digits.
DIGIT_STRINGS = {"id_number", "phone", "payout_account", "region_code"}


def layout(columns) -> tuple[list[str], dict[int, float], list[int]]:
    """(headers, widths by index, text column indexes) for `subsidy.common.xlsx` writers."""
    columns = list(columns)
    return ([c.header for c in columns], {i: c.width for i, c in enumerate(columns)},
            [i for i, c in enumerate(columns) if c.text])

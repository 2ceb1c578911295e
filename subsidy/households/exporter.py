"""Workbooks the register hands out: the export of the (scoped) register and the import template.

The export streams rows from a `yield_per` query into an openpyxl write-only workbook, with the
import's headers plus 村代码 and 村名, so an export can be corrected and imported back. Exports
of personal data are audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.xlsx import save_to_temp, style_header_row, write_workbook
from subsidy.extensions import db
from subsidy.households.columns import COLUMNS, VILLAGE_CODE, VILLAGE_NAME, layout
from subsidy.households.models import Household
from subsidy.households.service import search_statement
from subsidy.households.validation import MAX_LAND_MU
from subsidy.regions.models import Region
from subsidy.regions.scope import normalize_code
from subsidy.regions.service import list_villages

EXPORT_COLUMNS = (*COLUMNS, VILLAGE_CODE, VILLAGE_NAME)
SHEET_TITLE = "农户名册"
STREAM_BATCH = 2000
TEMPLATE_TEXT_ROWS = 5000  # cells formatted as text one by one (beyond them, the column's format)


@dataclass
class WorkbookFile:
    file: object  # a temporary file positioned at 0
    filename: str
    count: int = 0


@requires(Perm.export_households)
def export_households(actor, *, region_code: str | None = None, q: str | None = None) -> WorkbookFile:
    """The register under the actor's region (narrowed by `region_code` and `q` as the list
    page is) as .xlsx; one audit event `household.export` with the filter and the count."""
    stmt = search_statement(actor, region_code or None, q)
    stmt = (stmt.with_only_columns(*(getattr(Household, c.key) for c in COLUMNS), Household.region_code, Region.name)
            .join_from(Household, Region, Region.code == Household.region_code)
            .order_by(Household.region_code, Household.id)
            .execution_options(yield_per=STREAM_BATCH))
    counter = {"n": 0}

    def rows():
        # Plain column rows through the session's connection: the ORM's result machinery
        # adds nothing to tuples but time. yield_per streams (a server-side cursor on PostgreSQL).
        for row in db.session.connection().execute(stmt):
            counter["n"] += 1
            yield row

    headers, widths, text_columns = layout(EXPORT_COLUMNS)
    out = write_workbook(SHEET_TITLE, headers, rows(), widths=widths, text_columns=text_columns)
    scope = normalize_code(region_code) if region_code else actor.region_code
    audit.record(actor, "household.export", "household", None, region_code=scope, count=counter["n"],
                 filter={"region_code": region_code or None, "q": (q or "").strip() or None})
    return WorkbookFile(out, f"农户名册_{scope}_{date.today():%Y%m%d}.xlsx", counter["n"])


RULES = [
    ("户主姓名", "必填，不超过 40 字。", "张建国"),
    ("身份证号", "必填，18 位居民身份证号，末位校验码须正确（X 大小写均可）。一人只能登记一户；"
                 "已登记的身份证号再次导入时更新该户信息。请将本列设为“文本”格式。", "642226196503120112"),
    ("手机号码", "选填，大陆 11 位手机号（可带 +86 或空格），不接受固定电话。用于短信通知。", "13895412345"),
    ("一卡通账号", "选填，10–30 位数字，补贴资金发放账户。请设为“文本”格式。", "6231000012345678901"),
    ("家庭人口", "必填，1–50 的整数。", "4"),
    ("耕地面积(亩)", f"选填，不小于 0、不大于 {MAX_LAND_MU} 的数字，最多两位小数；空白按 0 计。", "12.5"),
]
VILLAGE_RULE = ("村代码", "必填（您的辖区高于村级），该户所属村的 12 位代码，见“村代码表”。", "640425100201")
NOTES = [
    "第一张工作表的第 1 行是表头，请勿修改、删除或调换表头；从第 2 行起每行填写一户。",
    "导入时先检查全部行：只要有一处错误，整个文件都不会写入，页面会列出每个错误的行号、列和原因，改正后重新上传即可。",
    "表头中的括号全角、半角均可。导出的名册可直接修改后重新导入（“村名”列会被忽略）。",
    "一个文件最多 100000 行，大小不超过 20 MB。",
]


@requires(Perm.edit_households)
def import_template(actor) -> WorkbookFile:
    """The blank import workbook: headers on the first sheet (nothing else, since the first
    sheet is what gets imported), rules and an example on "填写说明"."""
    above_village = len(actor.region_code) != 12
    columns = [*COLUMNS, VILLAGE_CODE] if above_village else list(COLUMNS)
    headers, widths, text_columns = layout(columns)

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    style_header_row(ws, headers, widths, text_columns, text_rows=TEMPLATE_TEXT_ROWS)
    members = DataValidation(type="whole", operator="between", formula1="1", formula2="50", allow_blank=True,
                             error="家庭人口应为 1–50 的整数", errorTitle="家庭人口", showErrorMessage=True)
    members.add("E2:E100001")
    land = DataValidation(type="decimal", operator="between", formula1="0", formula2=str(MAX_LAND_MU),
                          allow_blank=True, error="耕地面积应为不小于 0 的数字（亩）", errorTitle="耕地面积",
                          showErrorMessage=True)
    land.add("F2:F100001")
    ws.add_data_validation(members)
    ws.add_data_validation(land)

    guide = wb.create_sheet("填写说明")
    rules = RULES + ([VILLAGE_RULE] if above_village else [])
    guide.append(["列名", "填写要求", "示例"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for row in rules:
        guide.append(list(row))
    guide.append([])
    guide.append(["注意事项"])
    guide.cell(row=guide.max_row, column=1).font = Font(bold=True)
    for note in NOTES:
        guide.append(["", note])
    if not above_village:
        guide.append(["", f"您是村级经办员：导入的农户都登记在本村（{actor.region_code}），无需填写村代码。"])
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 90
    guide.column_dimensions["C"].width = 24
    for row in guide.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")

    if above_village:
        codes = wb.create_sheet("村代码表")
        codes.append(["村代码", "村名", "乡镇代码"])
        for cell in codes[1]:
            cell.font = Font(bold=True)
        for village in list_villages(actor):
            codes.append([village.code, village.name, village.parent_code])
        codes.column_dimensions["A"].width = 16
        codes.column_dimensions["B"].width = 16
        codes.column_dimensions["C"].width = 14
    return WorkbookFile(save_to_temp(wb), "农户导入模板.xlsx")

"""The bank's files: the batch file we send (发放清册) and the result file it returns (回盘).

Batch file (.xlsx or CSV), one row per payment, then one 合计 row:

    交易流水号 | 户名 | 身份证号 | 账号 | 金额 | 摘要
    合计       | N笔  |          |      | total |

CSV is UTF-8 with a byte-order mark (Excel and WPS open it as Chinese text), written by
`subsidy.common.csvfile`: a name that looks like a formula is neutralised and the 交易流水号, ID
numbers and accounts carry a leading tab so that Excel keeps all their digits (see there why a
tab and not an apostrophe). Every export is an audit event (personal data leaves the platform).

Result file (.xlsx or CSV, UTF-8 or GB18030): headers 交易流水号, 状态 (成功/失败), 失败原因,
银行流水号, 金额; the batch file's other columns (户名, 身份证号, 账号, 摘要, 序号, 备注) may be
echoed back and are ignored. A row whose 交易流水号 reads 合计 is the file's control total.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.csvfile import CSV_MIMETYPE, write_csv
from subsidy.common.money import quantize, to_decimal
from subsidy.common.timeutil import utcnow
from subsidy.common.xlsx import RowErrors, SheetReader, cell_text, map_headers, normalize_header, write_workbook
from subsidy.errors import Conflict, ValidationError
from subsidy.extensions import db
from subsidy.payments.models import BatchStatus, Payment, PaymentStatus
from subsidy.payments.service import county_only, get_batch

HEADERS = ["交易流水号", "户名", "身份证号", "账号", "金额", "摘要"]
TOTAL_LABELS = {"合计", "总计"}


@dataclass
class ExportFile:
    file: object
    filename: str
    mimetype: str
    count: int


def summary_text(batch) -> str:
    """摘要: what the farmer's passbook shows: year and project, at most 20 characters."""
    return f"{batch.project.year}{batch.project.name}"[:20]


def _rows(batch) -> Iterator[tuple]:
    stmt = (sa.select(Payment.disbursement_id, Payment.head_name, Payment.id_number, Payment.payout_account,
                      Payment.amount)
            .where(Payment.batch_id == batch.id, Payment.status != PaymentStatus.cancelled)
            .order_by(Payment.seq).execution_options(yield_per=2000))
    memo = summary_text(batch)
    for did, name, id_number, account, amount in db.session.execute(stmt):
        yield did, name, id_number, account, quantize(amount), memo


@requires(Perm.manage_payments)
def export_batch(actor, batch_id: int, kind: str = "xlsx") -> ExportFile:
    """The batch file for the bank, audited; refused for a withdrawn batch."""
    county_only(actor)
    batch = get_batch(actor, batch_id)
    if batch.status == BatchStatus.cancelled:
        raise Conflict("批次已作废，不能导出")
    if kind not in ("xlsx", "csv"):
        raise ValidationError("导出格式应为 xlsx 或 csv", fields={"format": "xlsx 或 csv"})
    count = {"n": 0, "total": Decimal("0")}

    def rows():
        for row in _rows(batch):
            count["n"] += 1
            count["total"] += row[4]
            yield row
        yield ("合计", f"{count['n']}笔", "", "", quantize(count["total"]), "")

    name = f"发放清册_{batch.code}_{date.today():%Y%m%d}"
    if kind == "xlsx":
        out = write_workbook("发放清册", HEADERS, rows(), widths={0: 26, 1: 12, 2: 22, 3: 24, 4: 14, 5: 24},
                             text_columns=(0, 2, 3))
        result = ExportFile(out, name + ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 0)
    else:
        # Amounts go in as Decimal (quantized): written as bare numbers, never prefixed.
        out = write_csv(HEADERS, rows())
        result = ExportFile(out, name + ".csv", CSV_MIMETYPE, 0)
    result.count = count["n"]
    batch.exported_at = utcnow()
    batch.export_count = (batch.export_count or 0) + 1
    db.session.flush()
    audit.record(actor, "payment.batch_export", "payment_batch", batch.id, region_code=batch.county_code,
                 format=kind, payments=count["n"], total=quantize(count["total"]))
    return result


# --- reading a result file ------------------------------------------------------------------

RESULT_COLUMNS = {"交易流水号": "id", "状态": "status", "失败原因": "reason", "银行流水号": "bank_ref",
                  "金额": "amount"}
RESULT_REQUIRED = ("id", "status", "amount")
RESULT_IGNORED = ("户名", "身份证号", "账号", "摘要", "序号", "备注", "交易日期", "处理时间")
STATUS_WORDS = {"成功": "paid", "交易成功": "paid", "失败": "failed", "交易失败": "failed"}


@dataclass
class ResultRow:
    row: int
    disbursement_id: str
    status: str | None       # "paid" / "failed" / None (unreadable)
    reason: str
    bank_ref: str
    amount: Decimal | None   # None: unreadable
    problem: str | None = None


@dataclass
class ParsedFile:
    rows: list[ResultRow]
    total_row: ResultRow | None
    total_count: int | None  # 笔数 on the 合计 row, if given
    errors: RowErrors


def _money(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        d = to_decimal(value)
    except ValueError:
        return None
    if quantize(d) != d:  # more than two decimals: not an amount of money
        return None
    return quantize(d)


def _count(text: str) -> int | None:
    digits = text.replace("笔", "").replace("共", "").strip()
    return int(digits) if digits.isdigit() else None


def _table(fileobj, filename: str) -> tuple[list[str], Iterator[tuple[int, tuple]], object]:
    name = (filename or "").lower()
    if name.endswith(".csv"):
        raw = fileobj.read()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError("无法识别 CSV 文件的编码（应为 UTF-8 或 GBK）", fields={"file": "编码无法识别"})
        records = list(csv.reader(io.StringIO(text)))
        if not records:
            raise ValidationError("文件是空的", fields={"file": "文件是空的"})
        headers = [normalize_header(h) for h in records[0]]
        while headers and not headers[-1]:
            headers.pop()
        width = len(headers)

        def rows():
            for number, rec in enumerate(records[1:], start=2):
                values = tuple((rec + [""] * width)[:width])
                if all(not str(v).strip() for v in values):
                    continue
                yield number, values
        return headers, rows(), None
    if name and not name.endswith((".xlsx", ".xlsm")):
        raise ValidationError("回盘文件应为 .xlsx 或 .csv", fields={"file": "请上传 .xlsx 或 .csv 文件"})
    reader = SheetReader(fileobj)
    return reader.headers, iter(reader), reader


def parse_result_file(fileobj, filename: str) -> ParsedFile:
    headers, rows, closer = _table(fileobj, filename)
    try:
        errors = RowErrors()
        columns = map_headers(headers, RESULT_COLUMNS, RESULT_REQUIRED, ignored=RESULT_IGNORED, errors=errors)
        if errors:
            raise ValidationError("回盘文件的表头不对：第 1 行应为 交易流水号、状态、失败原因、银行流水号、金额",
                                  fields={"file": "; ".join(e["message"] for e in errors.items)})
        out: list[ResultRow] = []
        total_row, total_count = None, None

        def get(values, key):
            i = columns.get(key)
            return values[i] if i is not None else None

        for number, values in rows:
            did = cell_text(get(values, "id"))
            status_text = cell_text(get(values, "status"))
            amount = _money(get(values, "amount"))
            if did in TOTAL_LABELS:
                if total_row is not None:
                    raise ValidationError(f"第 {number} 行：文件中有两个合计行，整个文件未导入",
                                          fields={"file": "合计行重复"})
                total_row = ResultRow(number, did, None, "", "", amount)
                total_count = _count(status_text) if status_text else None
                if amount is None:
                    raise ValidationError(f"第 {number} 行：合计金额无法识别，整个文件未导入",
                                          fields={"file": "合计金额有误"})
                continue
            row = ResultRow(number, did, STATUS_WORDS.get(status_text), cell_text(get(values, "reason")),
                            cell_text(get(values, "bank_ref")), amount)
            if not did:
                row.problem = "缺少交易流水号"
            elif row.status is None:
                row.problem = f"状态“{status_text}”无法识别，应为“成功”或“失败”"
            elif amount is None:
                row.problem = "金额无法识别"
            out.append(row)
        if not out:
            raise ValidationError("回盘文件中没有数据行", fields={"file": "没有数据行"})
        return ParsedFile(out, total_row, total_count, errors)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError("回盘文件无法读取", fields={"file": str(exc)}) from exc
    finally:
        if closer is not None:
            closer.close()

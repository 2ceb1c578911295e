"""实物补贴发放与签收 (docs/design.md "Material subsidies"): a material project's goods go into
the township's store and out to each household, never more than due nor than on hand, and the
filing is 发放完毕 when every household has its goods."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.audit.models import AuditEvent
from subsidy.errors import Conflict
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.materials import service
from subsidy.materials.models import MaterialPickup
from subsidy.projects import amounts
from subsidy.projects.models import Category, Unit
from tests.conftest import PASSWORD
from tests.factories import ProjectFactory, make_user
from tests.filings_support import make_world, walk_to

DAY = "2017-07-01"


def _token(app, user):
    c = app.test_client()
    resp = c.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 200, resp.json
    c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + resp.json["token"]
    c.user = user
    return c


def _web(app, user):
    c = app.test_client()
    assert c.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    return c


def _world(n=2, price=None):
    w = make_world(n, category=Category.material, unit=Unit.household, item="地膜", item_unit="卷",
                   rate=Decimal("1.50"), unit_price=price)
    walk_to(w, FilingState.county_approved)
    return w


def _stock(app, w, quantity, township="640425100"):
    api = _token(app, w.township)
    r = api.post(f"/api/v1/projects/{w.project.id}/stock",
                 json={"region_code": township, "quantity": quantity, "received_on": DAY, "supplier": "某某农资公司",
                       "document_no": "RK-001"})
    assert r.status_code == 201, r.json
    return r.json


def _pickup(api, w, entry_id, quantity, **kw):
    body = {"quantity": quantity, "received_on": DAY, "receiver": "self", **kw}
    return api.post(f"/api/v1/filings/{w.filing.id}/entries/{entry_id}/pickups", json=body)


def _entries(w):
    return db.session.scalars(sa.select(Entry).where(Entry.filing_id == w.filing.id).order_by(Entry.id)).all()


def test_a_material_project_needs_its_goods(api_as):
    api = api_as("county_admin")
    base = {"name": "地膜覆盖补贴", "year": 2017, "category": "material", "unit": "mu", "rate": "1.50",
            "budget": "0.00"}
    r = api.post("/api/v1/projects", json=base)
    assert r.status_code == 400 and {"item", "item_unit"} <= set(r.json["error"]["fields"])
    r = api.post("/api/v1/projects", json={**base, "item": "地膜", "item_unit": "卷", "unit_price": "-1"})
    assert r.status_code == 400 and "unit_price" in r.json["error"]["fields"]
    r = api.post("/api/v1/projects", json={**base, "item": "地膜", "item_unit": "卷", "unit_price": "32.50"})
    assert r.status_code == 201, r.json
    assert (r.json["item"], r.json["item_unit"], r.json["unit_price"]) == ("地膜", "卷", "32.50")
    cash = api.post("/api/v1/projects", json={**base, "name": "现金", "category": "cash", "item": "地膜"})
    assert cash.status_code == 201 and cash.json["item"] is None and cash.json["unit_price"] is None


@pytest.mark.parametrize(("price", "expected"), [(None, "0.00"), (Decimal("32.50"), "73.13"), (Decimal("0"), "0.00")])
def test_a_material_entry_is_worth_its_goods_at_the_unit_price_in_both_forms(app, county, price, expected):
    project = ProjectFactory(category=Category.material, unit=Unit.mu, item="地膜", item_unit="卷",
                             rate=Decimal("1.50"), unit_price=price)
    quantity = Decimal("1.50")  # 2.25 rolls due
    assert amounts.goods_due(project.rate, quantity) == Decimal("2.25")
    assert amounts.entry_amount(project, quantity) == Decimal(expected)
    sql = db.session.scalar(sa.select(amounts.entry_amount_sql(project, sa.literal(project.rate, sa.Numeric(12, 2)),
                                                               sa.literal(quantity, sa.Numeric(12, 2)))))
    assert Decimal(sql).quantize(Decimal("0.01")) == Decimal(expected)


def test_add_all_households_values_goods_at_the_unit_price(app, county):
    from subsidy.filings import entries
    from subsidy.filings import service as filings
    from tests.factories import HouseholdFactory

    project = ProjectFactory(category=Category.material, unit=Unit.household, item="地膜", item_unit="卷",
                             rate=Decimal("2.00"), unit_price=Decimal("30.00"))
    for _ in range(2):
        HouseholdFactory(region_code="640425100202")
    clerk = make_user("village_clerk", "640425100202")
    filing = filings.start_filing(clerk, project.id)
    entries.add_all_households(clerk, filing.id)
    db.session.commit()
    assert {(e.quantity, e.amount) for e in db.session.scalars(sa.select(Entry).where(Entry.filing_id == filing.id))} \
        == {(Decimal("1.00"), Decimal("60.00"))}


def test_from_stock_to_pickups_to_paid(app, county):
    w = _world(3)
    clerk = _token(app, w.clerk)
    e = _entries(w)
    assert [service.quantity_due(w.project, x) for x in e] == [Decimal("1.50")] * 3
    assert _pickup(clerk, w, e[0].id, "1.00").status_code == 409  # nothing in the store yet
    _stock(app, w, "3.00")
    stock = clerk.get(f"/api/v1/projects/{w.project.id}/stock?region_code=640425100").json
    assert (stock["received"], stock["distributed"], stock["on_hand"]) == ("3.00", "0.00", "3.00")

    r = _pickup(clerk, w, e[0].id, "1.00")
    assert r.status_code == 201, r.json
    too_much = _pickup(clerk, w, e[0].id, "1.00")
    assert too_much.status_code == 400 and "超过应领数量" in too_much.json["error"]["fields"]["quantity"]
    proxy = _pickup(clerk, w, e[0].id, "0.50", receiver="proxy")
    assert proxy.status_code == 400 and {"proxy_name", "proxy_relation"} <= set(proxy.json["error"]["fields"])
    zero = _pickup(clerk, w, e[0].id, "0")
    assert zero.status_code == 400 and "quantity" in zero.json["error"]["fields"]
    r = _pickup(clerk, w, e[0].id, "0.50", receiver="proxy", proxy_name="李四", proxy_relation="儿子")
    assert r.status_code == 201 and r.json["proxy_name"] == "李四"
    assert _pickup(clerk, w, e[1].id, "1.50").status_code == 201
    short = _pickup(clerk, w, e[2].id, "1.50")  # 0.00 left of 3.00
    assert short.status_code == 409 and "乡镇库存不足：尚缺 1.50 卷" in short.json["error"]["message"]

    d = clerk.get(f"/api/v1/filings/{w.filing.id}/distribution").json
    assert (d["due"], d["received"]) == ("4.50", "3.00")
    assert [(x["quantity_due"], x["quantity_received"], x["state"]) for x in d["items"]] == [
        ("1.50", "1.50", "done"), ("1.50", "1.50", "done"), ("1.50", "0.00", "waiting")]
    assert db.session.get(Filing, w.filing.id).state == FilingState.county_approved

    _stock(app, w, "1.00")
    assert _pickup(clerk, w, e[2].id, "1.00").status_code == 201
    assert clerk.get(f"/api/v1/filings/{w.filing.id}/distribution").json["items"][2]["state"] == "partly"
    _stock(app, w, "0.50")
    assert _pickup(clerk, w, e[2].id, "0.50").status_code == 201
    db.session.expire_all()
    filing = db.session.get(Filing, w.filing.id)
    assert filing.state == FilingState.paid
    stock = clerk.get(f"/api/v1/projects/{w.project.id}/stock").json
    assert (stock["received"], stock["distributed"], stock["on_hand"]) == ("4.50", "4.50", "0.00")
    # no pickups after 发放完毕
    assert _pickup(clerk, w, e[2].id, "0.01").status_code == 409
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("material.%"))).all()
    assert actions.count("material.pickup") == 5 and actions.count("material.receipt") == 3
    page = _web(app, w.clerk)
    html = page.get(f"/filings/{w.filing.id}").get_data(as_text=True)
    assert "发放完毕" in html
    html = page.get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "发放完毕" in html and "登记领取" not in html


def test_only_the_village_clerk_records_pickups(app, county):
    w = _world(1)
    _stock(app, w, "5.00")
    e = _entries(w)[0]
    other = _token(app, make_user("village_clerk", "640425100202"))
    assert _pickup(other, w, e.id, "1.00").status_code == 404
    assert _pickup(_token(app, w.township), w, e.id, "1.00").status_code == 403
    assert _pickup(_token(app, w.county), w, e.id, "1.00").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MaterialPickup)) == 0


def test_pickups_wait_for_the_county_approval(app, county):
    w = make_world(1, category=Category.material, unit=Unit.household, item="地膜", item_unit="卷",
                   rate=Decimal("1.50"))
    walk_to(w, FilingState.township_approved)
    r = _pickup(_token(app, w.clerk), w, _entries(w)[0].id, "1.00")
    assert r.status_code == 409


def test_a_township_records_stock_for_its_own_township_only(app, county):
    w = _world(1)
    api = _token(app, w.township)
    body = {"quantity": "10", "received_on": DAY, "supplier": "某某农资公司", "document_no": "RK-1"}
    assert api.post(f"/api/v1/projects/{w.project.id}/stock",
                    json={**body, "region_code": "640425101"}).status_code == 404
    bad = api.post(f"/api/v1/projects/{w.project.id}/stock", json={**body, "region_code": "640425100201"})
    assert bad.status_code == 400 and "region_code" in bad.json["error"]["fields"]
    bad = api.post(f"/api/v1/projects/{w.project.id}/stock", json={**body, "region_code": "640425100", "quantity": "0"})
    assert bad.status_code == 400 and "quantity" in bad.json["error"]["fields"]
    clerk = _token(app, w.clerk)
    assert clerk.post(f"/api/v1/projects/{w.project.id}/stock",
                      json={**body, "region_code": "640425100"}).status_code == 403
    assert api.post(f"/api/v1/projects/{w.project.id}/stock",
                    json={**body, "region_code": "640425100"}).status_code == 201
    other = _token(app, make_user("township_reviewer", "640425101"))
    assert other.get(f"/api/v1/projects/{w.project.id}/stock?region_code=640425100").status_code == 404
    assert other.get(f"/api/v1/projects/{w.project.id}/stock").json["received"] == "0.00"
    county_view = _token(app, w.county).get(f"/api/v1/projects/{w.project.id}/stock").json
    assert county_view["received"] == "10.00"


def test_stock_is_never_negative(app, county):
    w = _world(2)
    _stock(app, w, "1.00")
    clerk = _token(app, w.clerk)
    e = _entries(w)
    assert _pickup(clerk, w, e[0].id, "1.00").status_code == 201
    assert _pickup(clerk, w, e[1].id, "0.01").status_code == 409
    s = service.stock(w.clerk, w.project.id)
    assert s["on_hand"] == Decimal("0.00")


def test_the_farmer_reads_goods_not_money_on_a_card(client, app, county):
    from tests.test_public import sign_in

    w = _world(1, price=Decimal("30.00"))
    _stock(app, w, "5.00")
    assert _pickup(_token(app, w.clerk), w, _entries(w)[0].id, "1.00").status_code == 201
    sign_in(client, db, w.households[0])
    html = client.get("/m/me").get_data(as_text=True)
    assert "地膜" in html and "应领 1.50 卷，已领 1.00 卷" in html
    assert "一卡通" not in html
    from subsidy.notify.models import Message

    sms = db.session.scalars(sa.select(Message).where(Message.household_id == w.households[0].id)).all()
    assert [m.template for m in sms if m.template != "login_code"] == ["filing_approved_material"]
    assert "应领地膜1.50卷" in sms[0].body or any("应领地膜1.50卷" in m.body for m in sms)
    assert "元" not in html.split('id="sms"')[1]


def test_two_clerks_at_once_against_stock_for_one(app, county):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    w = _world(2)
    _stock(app, w, "1.50")
    second = make_user("village_clerk", w.filing.region_code)
    filing_id, ids = w.filing.id, [x.id for x in _entries(w)]
    users = (w.clerk.id, second.id)
    db.session.remove()
    barrier = threading.Barrier(2)
    outcome: dict[int, object] = {}

    def clerk(i):
        with app.app_context():
            try:
                actor = db.session.get(User, users[i])
                barrier.wait(10)
                service.record_pickup(actor, filing_id, ids[i], "1.50", DAY, "self")
                db.session.commit()
                outcome[i] = "ok"
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                outcome[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=clerk, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(type(v).__name__ if v != "ok" else "ok" for v in outcome.values()) == ["Conflict", "ok"], outcome
    assert any(isinstance(v, Conflict) and "库存不足" in v.message for v in outcome.values())
    s = service.stock(db.session.get(User, users[0]), w.project.id, "640425100")
    assert (s["received"], s["distributed"], s["on_hand"]) == (Decimal("1.50"), Decimal("1.50"), Decimal("0.00"))


def test_the_pages_record_a_delivery_and_a_pickup_keeping_what_was_typed(app, county):
    w = _world(2)
    township = _web(app, w.township)
    assert f"/materials/projects/{w.project.id}/stock" in township.get("/projects/").get_data(as_text=True)
    page = township.get(f"/materials/projects/{w.project.id}/stock")
    assert page.status_code == 200 and "登记入库" in page.get_data(as_text=True)
    bad = township.post(f"/materials/projects/{w.project.id}/stock",
                        data={"quantity": "0", "received_on": DAY, "supplier": "某某农资公司", "document_no": "RK-9"})
    assert bad.status_code == 422 and "入库数量应大于 0" in bad.get_data(as_text=True)
    assert "RK-9" in bad.get_data(as_text=True)
    ok = township.post(f"/materials/projects/{w.project.id}/stock",
                       data={"quantity": "2.00", "received_on": DAY, "supplier": "某某农资公司", "document_no": "RK-9"})
    assert ok.status_code == 302
    clerk = _web(app, w.clerk)
    assert f"/materials/filings/{w.filing.id}" in clerk.get(f"/filings/{w.filing.id}").get_data(as_text=True)
    page = clerk.get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "登记领取" in page and "data-confirm" in page and "应领 1.50 卷，已领 0.00 卷" in page
    e = _entries(w)
    refused = clerk.post(f"/materials/filings/{w.filing.id}/pickups",
                         data={"entry_id": e[0].id, "quantity": "1.25", "received_on": DAY, "receiver": "proxy",
                               "proxy_name": "李四"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写代领人与户主关系" in html and 'value="1.25"' in html
    assert 'value="李四"' in html
    done = clerk.post(f"/materials/filings/{w.filing.id}/pickups",
                      data={"entry_id": e[0].id, "quantity": "1.50", "received_on": DAY, "receiver": "self"})
    assert done.status_code == 302
    short = clerk.post(f"/materials/filings/{w.filing.id}/pickups",
                       data={"entry_id": e[1].id, "quantity": "1.50", "received_on": DAY, "receiver": "self"})
    assert short.status_code == 409 and "乡镇库存不足：尚缺 1.00 卷" in short.get_data(as_text=True)
    assert _web(app, make_user("village_clerk", "640425100202")).get(
        f"/materials/filings/{w.filing.id}").status_code == 404


def test_the_project_form_asks_for_the_goods_of_a_material_project(app, login_as):
    web = login_as("county_admin")
    data = {"name": "地膜覆盖补贴", "year": "2017", "category": "material", "unit": "mu", "rate": "1.50",
            "budget": "0", "publicity_days": "7", "item": "", "item_unit": "卷", "unit_price": "abc"}
    page = web.post("/projects/new", data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "请填写实物名称" in html and "单价应为数字" in html and 'value="卷"' in html
    assert web.post("/projects/new", data={**data, "item": "地膜", "unit_price": "24.00"}).status_code == 302

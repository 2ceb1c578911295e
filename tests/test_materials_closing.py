"""实物补贴, from the list to its close (docs/design.md "Material subsidies"): where and when to
collect and the SMS that say it, the reminder before the list closes, the two-person write-off of
goods a household will never collect, the farmer's 我已领取 / 没有领到 on each pickup, the
printable 签收表, and 发放完毕 decided by one aggregate."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.cases.models import Case, CaseKind
from subsidy.common.timeutil import local_today
from subsidy.extensions import db
from subsidy.filings.models import Filing, FilingState
from subsidy.materials import lists, service
from subsidy.materials.models import MaterialPickup
from subsidy.notify.models import Message
from subsidy.payments.models import ReceiptAnswer
from subsidy.projects.models import Category, Unit
from subsidy.recoveries.models import WriteOff
from tests.factories import make_user
from tests.filings_support import make_world, walk_to
from tests.test_materials import _entries, _pickup, _stock, _token, _web, _world


def _sms(template: str) -> list[Message]:
    return db.session.scalars(sa.select(Message).where(Message.template == template).order_by(Message.id)).all()


def _put_list(api, w, place="阳洼村村委会", start=None, end=None):
    start = start or local_today()
    end = end or start + timedelta(days=10)
    return api.put(f"/api/v1/filings/{w.filing.id}/distribution/list",
                   json={"place": place, "starts_on": start.isoformat(), "ends_on": end.isoformat()})


# --- where and when -------------------------------------------------------------------------------

def test_the_approval_sms_says_where_and_from_when_when_the_village_said_it(app, county):
    w = make_world(2, category=Category.material, unit=Unit.household, item="地膜", item_unit="卷",
                   rate=Decimal("1.50"))
    clerk = _token(app, w.clerk)
    start = local_today() + timedelta(days=3)
    r = _put_list(clerk, w, start=start, end=start + timedelta(days=14))
    assert r.status_code == 200, r.json
    assert (r.json["place"], r.json["revision"]) == ("阳洼村村委会", 1)
    assert _sms("material_collect") == []  # before the approval the approval's SMS will say it
    walk_to(w, FilingState.county_approved)
    sent = _sms("filing_approved_material_place")
    assert len(sent) == 2 and _sms("filing_approved_material") == []
    day = f"{start.month}月{start.day}日"
    assert all(f"请于{day}至" in m.body and "到阳洼村村委会领取" in m.body and "应领地膜1.50卷" in m.body for m in sent)


def test_without_a_place_the_approval_sms_asks_to_wait_for_the_village(app, county):
    _world(1)
    assert len(_sms("filing_approved_material")) == 1 and _sms("filing_approved_material_place") == []


def test_a_place_set_after_the_approval_tells_only_the_households_still_owed(app, county):
    w = _world(3)
    clerk = _token(app, w.clerk)
    e = _entries(w)
    _stock(app, w, "10.00")
    assert _pickup(clerk, w, e[0].id, "1.50").status_code == 201  # done: not told
    assert _pickup(clerk, w, e[1].id, "0.50").status_code == 201  # partly: told what is left
    assert _put_list(clerk, w).status_code == 200
    sent = _sms("material_collect")
    assert sorted(m.entry_id for m in sent) == [e[1].id, e[2].id]
    assert "还可领1.00卷" in next(m.body for m in sent if m.entry_id == e[1].id)
    assert _put_list(clerk, w).status_code == 200  # the same again: nobody told twice
    assert len(_sms("material_collect")) == 2
    r = _put_list(clerk, w, place="白阳镇农资站")
    assert r.json["revision"] == 2 and len(_sms("material_collect")) == 4
    assert "material.list" in db.session.scalars(sa.select(AuditEvent.action)).all()


def test_the_list_refuses_bad_days_and_other_villages(app, county):
    w = _world(1)
    clerk = _token(app, w.clerk)
    today = local_today()
    r = _put_list(clerk, w, start=today, end=today - timedelta(days=1))
    assert r.status_code == 400 and "截止日期不能早于开始领取日期" in r.json["error"]["fields"]["ends_on"]
    r = _put_list(clerk, w, start=today - timedelta(days=9), end=today - timedelta(days=2))
    assert r.status_code == 400 and "截止日期已过" in r.json["error"]["fields"]["ends_on"]
    r = _put_list(clerk, w, place="  ")
    assert r.status_code == 400 and "place" in r.json["error"]["fields"]
    other = make_user("village_clerk", "640425100202")
    assert _put_list(_token(app, other), w).status_code in (403, 404)
    assert _put_list(_token(app, w.township), w).status_code == 403
    assert lists.get_list(w.filing.id) is None


def test_reminders_go_before_the_list_closes_once_to_those_still_owed(app, county):
    w = _world(2)
    clerk = _token(app, w.clerk)
    e = _entries(w)
    _stock(app, w, "5.00")
    assert _pickup(clerk, w, e[0].id, "1.50").status_code == 201
    today = local_today()
    assert _put_list(clerk, w, start=today, end=today + timedelta(days=10)).status_code == 200
    db.session.commit()
    assert lists.send_reminders(today=today, days=3) == {"lists": 0, "sms": 0}  # closes in 10 days
    later = today + timedelta(days=8)
    assert lists.send_reminders(today=later, days=3) == {"lists": 1, "sms": 1}
    assert lists.send_reminders(today=later + timedelta(days=1), days=3)["sms"] == 0  # once
    (m,) = _sms("material_reminder")
    assert m.entry_id == e[1].id and "还有1.50卷未领" in m.body and "截止" in m.body
    assert lists.send_reminders(today=today + timedelta(days=11), days=3)["lists"] == 0  # closed


def test_the_remind_command_runs_from_cron(app, county):
    w = _world(1)
    today = local_today()
    assert _put_list(_token(app, w.clerk), w, start=today, end=today + timedelta(days=2)).status_code == 200
    db.session.commit()
    out = app.test_cli_runner().invoke(args=["materials", "remind"])
    assert out.exit_code == 0 and "SMS owed: 1" in out.output, out.output


# --- write-offs of goods ------------------------------------------------------------------------

def test_goods_written_off_by_two_people_close_the_list(app, county):
    w = _world(2, price=Decimal("30.00"))
    clerk = _token(app, w.clerk)
    e = _entries(w)
    _stock(app, w, "5.00")
    assert _pickup(clerk, w, e[0].id, "1.50").status_code == 201
    assert _pickup(clerk, w, e[1].id, "0.50").status_code == 201
    url = f"/api/v1/filings/{w.filing.id}/entries/{e[1].id}/write-off"
    assert clerk.post(url, json={"reason": "户已迁出"}).status_code == 403
    county_api = _token(app, w.county)
    assert county_api.post(url, json={"reason": " "}).status_code == 400
    r = county_api.post(url, json={"reason": "户已迁出"})
    assert r.status_code == 200, r.json
    wo = r.json["write_off"]
    assert (wo["kind"], wo["quantity"], wo["amount"], wo["entry_id"]) == ("material", "1.00", "30.00", e[1].id)
    assert county_api.post(url, json={"reason": "户已迁出"}).status_code == 409  # once
    refused = _pickup(clerk, w, e[1].id, "0.50")
    assert refused.status_code == 409 and "已提出核销" in refused.json["error"]["message"]
    # the proposer cannot approve it; another county reviewer can
    assert county_api.post(f"/api/v1/write-offs/{wo['id']}/approve").status_code == 403
    assert db.session.get(Filing, w.filing.id).state == FilingState.county_approved
    second = _token(app, make_user("county_reviewer", "640425"))
    assert second.post(f"/api/v1/write-offs/{wo['id']}/approve").status_code == 200
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid
    items = clerk.get(f"/api/v1/filings/{w.filing.id}/distribution").json["items"]
    assert [x["state"] for x in items] == ["done", "written_off"]


def test_a_household_that_has_everything_has_nothing_to_write_off(app, county):
    w = _world(2)
    e = _entries(w)
    _stock(app, w, "5.00")
    assert _pickup(_token(app, w.clerk), w, e[0].id, "1.50").status_code == 201
    r = _token(app, w.county).post(f"/api/v1/filings/{w.filing.id}/entries/{e[0].id}/write-off",
                                   json={"reason": "户已迁出"})
    assert r.status_code == 409 and "已领完" in r.json["error"]["message"]


def test_the_database_keeps_one_write_off_of_an_entrys_goods(app, county):
    w = _world(1)
    (e,) = _entries(w)
    r = _token(app, w.county).post(f"/api/v1/filings/{w.filing.id}/entries/{e.id}/write-off",
                                   json={"reason": "农户拒绝领取"})
    assert r.status_code == 200
    db.session.commit()
    row = db.session.get(WriteOff, r.json["write_off"]["id"])
    dup = {c.name: getattr(row, c.name) for c in WriteOff.__table__.columns if c.name != "id"}
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(WriteOff).values(**dup))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("a second write-off of the same entry's goods was stored")


# --- the farmer's word ---------------------------------------------------------------------------

def test_the_farmer_confirms_one_pickup_and_denies_another(client, app, county):
    from tests.test_public import sign_in

    w = _world(2)
    clerk = _token(app, w.clerk)
    e = _entries(w)
    _stock(app, w, "5.00")
    assert _put_list(clerk, w).status_code == 200
    first = _pickup(clerk, w, e[0].id, "1.00").json["id"]
    second = _pickup(clerk, w, e[0].id, "0.50", receiver="proxy", proxy_name="李四", proxy_relation="邻居").json["id"]
    other = _pickup(clerk, w, e[1].id, "1.50").json["id"]
    db.session.commit()
    sign_in(client, db, w.households[0])
    html = client.get("/m/me").get_data(as_text=True)
    assert f'id="pickup-{first}"' in html and "代领人 李四（邻居）" in html and "领取地点：阳洼村村委会" not in html
    assert "我已领取" in html and "没有领到" in html and "一卡通" not in html

    assert client.post(f"/m/pickups/{first}/receipt", data={"answer": "confirmed"}).status_code == 302
    page = client.post(f"/m/pickups/{second}/receipt", data={"answer": "denied"})
    assert page.status_code == 200 and "确定没有领到" in page.get_data(as_text=True)
    assert db.session.get(MaterialPickup, second).receipt is None  # the confirmation page changes nothing
    assert client.post(f"/m/pickups/{second}/receipt",
                       data={"answer": "denied", "sure": "1", "note": "我没让人代领"}).status_code == 302
    # another household's pickup is not found, and nothing changes
    assert client.post(f"/m/pickups/{other}/receipt", data={"answer": "confirmed"}).status_code == 404
    db.session.expire_all()
    p1, p2, p3 = (db.session.get(MaterialPickup, i) for i in (first, second, other))
    assert (p1.receipt, p2.receipt, p3.receipt) == (ReceiptAnswer.confirmed, ReceiptAnswer.denied, None)
    case = db.session.get(Case, p2.receipt_case_id)
    assert case.kind == CaseKind.complaint and case.assigned_region_code == "640425"  # the county, not the village
    assert "代领人李四（邻居）" in case.body and "我没让人代领" in case.body and "地膜0.50卷" in case.subject
    # twice is refused; the staff page shows the denial
    again = client.post(f"/m/pickups/{second}/receipt", data={"answer": "denied", "sure": "1"})
    assert again.status_code == 409
    staff = _web(app, w.clerk).get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "农户反映没有领到" in staff


def test_the_farmer_page_says_where_to_collect(client, app, county):
    from tests.test_public import sign_in

    w = _world(1)
    assert _put_list(_token(app, w.clerk), w, place="阳洼村村委会").status_code == 200
    db.session.commit()
    sign_in(client, db, w.households[0])
    html = client.get("/m/me").get_data(as_text=True)
    assert "领取地点：阳洼村村委会" in html and "地膜" in html


# --- 发放完毕 ------------------------------------------------------------------------------------

def test_the_list_closes_on_its_last_cent_held_entries_aside(app, county):
    # rate 1.25 per 亩 × 3.33 亩 = 4.1625 → 4.16 due (half up in cents, as the amounts are)
    w = make_world(3, category=Category.material, unit=Unit.mu, item="良种", item_unit="公斤", rate=Decimal("1.25"))
    for x in _entries(w):
        x.quantity = Decimal("3.33")
    db.session.commit()
    walk_to(w, FilingState.county_approved)
    e = _entries(w)
    _stock(app, w, "20.00")
    clerk = _token(app, w.clerk)
    county_api = _token(app, w.county)
    r = county_api.post(f"/api/v1/filings/{w.filing.id}/entries/{e[2].id}/hold", json={"reason": "举报核查"})
    assert r.status_code in (200, 201), r.json
    assert service.outstanding(w.filing.id) == (2, 2)
    assert _pickup(clerk, w, e[0].id, "4.00").status_code == 201
    assert _pickup(clerk, w, e[0].id, "0.16").status_code == 201
    assert service.outstanding(w.filing.id) == (2, 1)
    assert _pickup(clerk, w, e[1].id, "4.16").status_code == 201
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid


def test_the_printable_sign_sheet(app, county):
    w = _world(2)
    clerk = _token(app, w.clerk)
    assert _put_list(clerk, w, place="阳洼村村委会").status_code == 200
    db.session.commit()
    html = _web(app, w.clerk).get(f"/materials/filings/{w.filing.id}/sheet").get_data(as_text=True)
    h = w.households[0]
    assert "实物领取签收表" in html and h.head_name in html and h.id_number not in html
    assert h.id_number[:6] in html and "<svg" in html and "领取地点" in html and "阳洼村村委会" in html
    assert html.count('class="sign"') == 2 + 1  # the heading and one per household
    other = make_user("village_clerk", "640425100202")
    assert _web(app, other).get(f"/materials/filings/{w.filing.id}/sheet").status_code in (403, 404)


def test_the_pages_set_the_place_and_propose_a_write_off(app, county):
    w = _world(2)
    e = _entries(w)
    page = _web(app, w.clerk)
    today = local_today()
    bad = page.post(f"/materials/filings/{w.filing.id}/list",
                    data={"place": "阳洼村村委会", "starts_on": today.isoformat(),
                          "ends_on": (today - timedelta(days=1)).isoformat()})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "截止日期不能早于开始领取日期" in html and 'value="阳洼村村委会"' in html
    assert lists.get_list(w.filing.id) is None
    ok = page.post(f"/materials/filings/{w.filing.id}/list",
                   data={"place": "阳洼村村委会", "starts_on": today.isoformat(),
                         "ends_on": (today + timedelta(days=5)).isoformat()})
    assert ok.status_code == 302 and lists.get_list(w.filing.id).place == "阳洼村村委会"
    assert "提出核销" not in page.get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)

    county_page = _web(app, w.county)
    html = county_page.get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "提出核销" in html and "户已迁出" in html  # the common reasons offered
    empty = county_page.post(f"/materials/filings/{w.filing.id}/write-off", data={"entry_id": e[0].id, "reason": ""})
    assert empty.status_code == 422 and f'id="reason-{e[0].id}"' in empty.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WriteOff)) == 0
    done = county_page.post(f"/materials/filings/{w.filing.id}/write-off",
                            data={"entry_id": e[0].id, "reason": "户主已去世，无人继承领取"})
    assert done.status_code == 302
    html = county_page.get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "核销待审批" in html


def test_the_approval_list_names_the_goods_and_links_the_list(app, county):
    w = _world(1)
    (e,) = _entries(w)
    assert _token(app, w.county).post(f"/api/v1/filings/{w.filing.id}/entries/{e.id}/write-off",
                                      json={"reason": "户已迁出"}).status_code == 200
    db.session.commit()
    html = _web(app, make_user("county_reviewer", "640425")).get("/write-offs/").get_data(as_text=True)
    assert "实物核销" in html and "1.50 卷地膜" in html and f"/materials/filings/{w.filing.id}#entry-{e.id}" in html


def test_the_close_compares_what_was_handed_out_with_what_was_approved(app, county):
    w = _world(2)
    clerk = _token(app, w.clerk)
    e = _entries(w)
    _stock(app, w, "5.00")
    assert _pickup(clerk, w, e[0].id, "1.50").status_code == 201
    assert _pickup(clerk, w, e[1].id, "0.50").status_code == 201
    wo = _token(app, w.county).post(f"/api/v1/filings/{w.filing.id}/entries/{e[1].id}/write-off",
                                    json={"reason": "户已迁出"}).json["write_off"]
    supervisor = _token(app, make_user("supervisor", "640425"))
    assert supervisor.post(f"/api/v1/write-offs/{wo['id']}/approve").status_code == 200
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "material.closed"))
    detail = json.loads(event.detail)
    assert (detail["due"], detail["received"], detail["written_off"]) == ("3.00", "2.00", "1.00")
    assert detail["households_written_off"] == 1 and len(detail["digest"]) == 64
    html = _web(app, w.county).get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "发放完毕核对" in html and "2 户，应领 3.00 卷" in html and "1 户，1.00 卷" in html
    assert detail["digest"][:16] in html


def test_the_list_page_links_the_signed_list_and_its_download_is_audited(app, county):
    w = _world(1)
    html = _web(app, w.clerk).get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert f"/materials/filings/{w.filing.id}/signed-list.xlsx" in html
    assert f'/materials/filings/{w.filing.id}/signed-list"' in html  # the clerk may upload
    html = _web(app, w.township).get(f"/materials/filings/{w.filing.id}").get_data(as_text=True)
    assert "signed-list.xlsx" in html and f'/materials/filings/{w.filing.id}/signed-list"' not in html
    assert _web(app, w.township).get(f"/materials/filings/{w.filing.id}/signed-list.xlsx").status_code == 200
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "material.signed_list_export")).all()
    assert len(events) == 1 and events[0].actor_id == w.township.id

"""Staff pages and API of SMS: the clerk's failures and resend, opt-outs, the county's outbox
and pause switch, broadcasts (群发通知), the numbers for /stats/summary, the `sms` commands."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.audit.models import AuditEvent
from subsidy.errors import PermissionDenied
from subsidy.extensions import db as _db
from subsidy.notify.models import Broadcast, MessageStatus, OptOut, SendingControl
from subsidy.notify.numbers import sms_summary
from subsidy.notify.service import set_paused
from tests.factories import HouseholdFactory, MessageFactory, OptOutFactory
from tests.sms_fixtures import all_messages, owe, reload, sms_transitions_guarded  # noqa: F401

S = MessageStatus
VILLAGE, OTHER_VILLAGE = "640425100201", "640425101202"


def _failed(household, code="21211", reason="手机号码无效，请核对后修改农户的手机号码", **kw):
    return MessageFactory(household_id=household.id, to_phone=household.phone, region_code=household.region_code,
                          status=S.failed, error_code=code, error_message=reason, attempts=1, **kw)


def _audits(action):
    return list(_db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


# --- the village clerk ------------------------------------------------------------------------

def test_clerk_sees_the_villages_failures_with_the_reason_in_chinese(app, db, login_as):
    mine = HouseholdFactory(head_name="王五", region_code=VILLAGE)
    theirs = HouseholdFactory(head_name="赵六", region_code=OTHER_VILLAGE)
    no_phone = HouseholdFactory(head_name="孙七", region_code=VILLAGE, phone=None)
    _failed(mine)
    _failed(theirs)
    owe(no_phone)
    MessageFactory(household_id=mine.id, region_code=VILLAGE, status=S.delivered, key="ok")
    db.session.commit()
    clerk = login_as("village_clerk", VILLAGE)
    html = clerk.get("/sms/problems").get_data(as_text=True)
    assert "王五" in html and "号码有误" in html and "手机号码无效" in html
    assert "孙七" in html and "无手机号码" in html
    assert "赵六" not in html
    assert "重发" in html
    if "households.edit" in app.view_functions:  # the register's page, built by the households area
        with app.test_request_context():
            from flask import url_for

            assert f'href="{url_for("households.edit", household_id=mine.id)}"' in html
    else:
        assert "修改农户信息" not in html


def test_resend_waits_for_a_fixed_phone_then_makes_a_new_audited_message(db, login_as):
    household = HouseholdFactory(region_code=VILLAGE)
    failed = _failed(household, key=f"filing_approved:3:{household.id}")
    db.session.commit()
    clerk = login_as("village_clerk", VILLAGE)
    assert f"/sms/messages/{failed.id}\"" in clerk.get("/sms/problems").get_data(as_text=True)
    resp = clerk.post(f"/sms/messages/{failed.id}/resend")
    assert resp.status_code == 409 and "请先修改农户的手机号码" in resp.get_data(as_text=True)
    assert len(all_messages()) == 1

    household.phone = "13912345678"
    db.session.commit()
    resp = clerk.post(f"/sms/messages/{failed.id}/resend", data={"next": "/sms/problems"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sms/problems")
    old, new = all_messages()
    assert old.replaced_by_id == new.id
    assert (new.status, new.to_phone, new.body, new.key) == (S.queued, "13912345678", old.body,
                                                             f"{old.key}#r{old.id}")
    [event] = _audits("sms.resend")
    assert event.object_id == str(old.id) and event.actor_id == clerk.user.id
    # Resent: it leaves the list of things to fix, and cannot be resent twice.
    assert f"/sms/messages/{old.id}\"" not in clerk.get("/sms/problems").get_data(as_text=True)
    assert clerk.post(f"/sms/messages/{old.id}/resend").status_code == 409


def test_clerk_cannot_resend_another_villages_message(db, login_as):
    failed = _failed(HouseholdFactory(region_code=OTHER_VILLAGE), code="30003", reason="x")
    db.session.commit()
    clerk = login_as("village_clerk", VILLAGE)
    assert clerk.post(f"/sms/messages/{failed.id}/resend").status_code == 404
    assert clerk.get(f"/sms/messages/{failed.id}").status_code == 404
    assert len(all_messages()) == 1


def test_opt_outs_are_recorded_by_staff_in_scope_and_shown_on_lists(db, login_as):
    mine = HouseholdFactory(region_code=VILLAGE)
    theirs = HouseholdFactory(region_code=OTHER_VILLAGE)
    MessageFactory(household_id=mine.id, to_phone=mine.phone, region_code=VILLAGE, status=S.sent)
    db.session.commit()
    clerk = login_as("village_clerk", VILLAGE)
    refused = clerk.post("/sms/opt-outs", data={"phone": theirs.phone})
    assert refused.status_code == 422 and "辖区内没有使用该号码的农户" in refused.get_data(as_text=True)
    assert clerk.post("/sms/opt-outs", data={"phone": "12345"}).status_code == 422
    resp = clerk.post("/sms/opt-outs", data={"phone": mine.phone, "note": "农户电话告知"})
    assert resp.status_code == 302
    opt_out = db.session.get(OptOut, mine.phone)
    assert (opt_out.source, opt_out.created_by) == ("staff", clerk.user.id)
    assert _audits("sms.opt_out")[0].region_code == VILLAGE
    assert db.session.get(OptOut, theirs.phone) is None
    assert "已退订" in clerk.get("/sms/messages").get_data(as_text=True)
    assert mine.phone in clerk.get("/sms/opt-outs").get_data(as_text=True)
    assert clerk.post("/sms/opt-outs/remove", data={"phone": mine.phone}).status_code == 302
    assert db.session.get(OptOut, mine.phone) is None


@pytest.mark.parametrize("role", ["village_clerk", "township_reviewer", "county_reviewer", "county_admin",
                                  "supervisor"])
def test_every_sms_page_renders_for_every_role(db, login_as, api_as, role):
    household = HouseholdFactory(region_code=VILLAGE)
    message = _failed(household)
    OptOutFactory(phone="13812345678")
    db.session.commit()
    broadcast = api_as("county_admin").post("/api/v1/sms/broadcasts", json={"region_code": VILLAGE, "body": "通知"})
    broadcast_id = broadcast.json["id"]
    c = login_as(role)
    for url in ("/sms/", "/sms/problems", "/sms/messages", "/sms/messages?status=failed&template=test", "/sms/opt-outs",
                "/sms/broadcasts", f"/sms/messages/{message.id}", f"/sms/broadcasts/{broadcast_id}"):
        resp = c.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    assert c.get("/sms/broadcasts/new").status_code == (200 if role == "county_admin" else 403)
    nav = c.get("/home").get_data(as_text=True)
    assert "短信通知" in nav


# --- the county -------------------------------------------------------------------------------

def test_county_outbox_by_status_day_and_template(db, login_as):
    household = HouseholdFactory()
    for status in (S.queued, S.sent, S.sent, S.delivered, S.failed):
        MessageFactory(household_id=household.id, status=status, template="filing_approved")
    MessageFactory(status=S.delivered, template="payment_paid", provider_calls=2)
    db.session.commit()
    admin = login_as("county_admin")
    html = admin.get("/sms/").get_data(as_text=True)
    assert "补贴审定通知" in html and "补贴到账通知" in html and "暂停发送" in html
    assert "【彭阳县惠农】张建国户：您的耕地地力保护补贴1312.50元已经县级审定" in html  # the template catalogue
    from subsidy.notify.service import outbox_overview

    o = outbox_overview(admin.user)
    assert o["by_status"][S.sent] == 2 and o["by_status"][S.delivered] == 2
    assert o["by_template"]["filing_approved"][S.sent] == 2
    assert sum(sum(c.values()) for c in o["by_day"].values()) == 6
    assert o["duplicate_messages"] == 1 and o["problems"] == 1


def test_pause_and_resume_with_audit_county_admin_only(db, login_as):
    clerk = login_as("village_clerk", VILLAGE)
    assert clerk.post("/sms/pause").status_code == 403
    admin = login_as("county_admin")
    assert admin.post("/sms/pause").status_code == 302
    assert db.session.get(SendingControl, "640425").paused is True
    assert "已暂停" in admin.get("/sms/").get_data(as_text=True)
    assert admin.post("/sms/resume").status_code == 302
    db.session.expire_all()
    assert db.session.get(SendingControl, "640425").paused is False
    assert [e.action for e in db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("sms.%")))] == \
        ["sms.pause", "sms.resume"]


def test_township_reviewer_reads_the_outbox_but_cannot_pause(db, login_as):
    reviewer = login_as("township_reviewer")
    html = reviewer.get("/sms/").get_data(as_text=True)
    assert reviewer.get("/sms/").status_code == 200 and "暂停发送" not in html
    with pytest.raises(PermissionDenied):
        set_paused(reviewer.user, True)


# --- broadcasts -------------------------------------------------------------------------------

@pytest.fixture
def township(db, county):
    """640425100: four households with phones (one opted out), one without; one elsewhere."""
    households = [HouseholdFactory(region_code=v) for v in (VILLAGE, VILLAGE, "640425100202", "640425100202")]
    HouseholdFactory(region_code=VILLAGE, phone=None)
    HouseholdFactory(region_code=OTHER_VILLAGE)
    OptOutFactory(phone=households[3].phone)
    db.session.commit()
    return households


def test_broadcast_page_previews_segments_and_cost_then_enqueues_on_confirmation(db, login_as, township):
    admin = login_as("county_admin")
    assert admin.get("/sms/broadcasts/new").status_code == 200
    body = "本周六上午9点在村委会召开惠农补贴政策宣讲会，请各户户主准时参加。" * 2
    resp = admin.post("/sms/broadcasts/new", data={"region_code": "640425100", "body": body, "action": "preview"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "确认发送" in html and "【彭阳县惠农】" + body in html
    assert "<strong>3</strong> 户" in html and "<strong>2</strong> 条" in html and "<strong>6</strong> 条" in html
    assert all_messages() == []  # the preview sends nothing
    resp = admin.post("/sms/broadcasts/new", data={"region_code": "640425100", "body": body, "action": "confirm"})
    assert resp.status_code == 302
    messages = all_messages()
    assert len(messages) == 3 and {m.status for m in messages} == {S.queued}
    assert {m.household_id for m in messages} == {h.id for h in township[:3]}
    assert {m.segments for m in messages} == {2} and {m.template for m in messages} == {"broadcast"}
    assert admin.get(resp.headers["Location"]).status_code == 200


def test_broadcast_api_counts(db, api_as, township):
    admin = api_as("county_admin")
    resp = admin.post("/api/v1/sms/broadcasts", json={"region_code": "640425100", "body": "明天上午开会"})
    assert resp.status_code == 201, resp.json
    assert resp.json["messages"] == 3 and resp.json["segments_each"] == 1
    broadcast = db.session.get(Broadcast, resp.json["id"])
    assert broadcast.text == "【彭阳县惠农】明天上午开会"
    keys = {m.key for m in all_messages()}
    assert keys == {f"broadcast:{broadcast.id}:{h.id}" for h in township[:3]}
    assert [e.object_id for e in _audits("sms.broadcast")] == [str(broadcast.id)]
    whole_county = admin.post("/api/v1/sms/broadcasts", json={"region_code": "640425", "body": "通知"})
    assert whole_county.json["messages"] == 4


def test_broadcast_is_refused_to_others_and_checks_its_input(db, api_as, township):
    assert api_as("village_clerk", VILLAGE).post(
        "/api/v1/sms/broadcasts", json={"region_code": VILLAGE, "body": "x"}).status_code == 403
    admin = api_as("county_admin")
    assert admin.post("/api/v1/sms/broadcasts", json={"region_code": "640426", "body": "x"}).status_code == 400
    bad = admin.post("/api/v1/sms/broadcasts", json={"region_code": "640425100", "body": "长" * 301})
    assert bad.status_code == 400 and "body" in bad.json["error"]["fields"]
    assert all_messages() == []


def test_broadcast_of_50_households_is_one_insert(db, api_as, county):
    from subsidy.households.models import Household

    _db.session.execute(sa.insert(Household), [
        {"region_code": VILLAGE, "head_name": f"户{i}", "id_number": f"64042519800101{i:04d}",
         "phone": f"1390000{i:04d}", "members": 1, "land_area_mu": 0,
         "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC)} for i in range(50)])
    _db.session.commit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(_db.engine, "before_cursor_execute", listener)
    try:
        resp = api_as("county_admin").post("/api/v1/sms/broadcasts", json={"region_code": VILLAGE, "body": "通知"})
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", listener)
    assert resp.json["messages"] == 50
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT INTO SMS_MESSAGES")]) == 1


# --- API list ---------------------------------------------------------------------------------

def test_messages_api_is_scoped_and_filtered(db, api_as, county):
    mine = HouseholdFactory(region_code=VILLAGE)
    m1 = MessageFactory(household_id=mine.id, to_phone=mine.phone, region_code=VILLAGE, status=S.failed,
                        error_code="21211", attempts=1)
    MessageFactory(region_code=VILLAGE, status=S.sent)
    MessageFactory(region_code=OTHER_VILLAGE, status=S.failed)
    db.session.commit()
    clerk = api_as("village_clerk", VILLAGE)
    resp = clerk.get("/api/v1/sms/messages?status=failed")
    assert resp.status_code == 200 and resp.json["total"] == 1
    item = resp.json["items"][0]
    assert {k: item[k] for k in ("id", "to", "body", "status", "error_code", "attempts", "household_id")} == {
        "id": m1.id, "to": mine.phone, "body": m1.body, "status": "failed", "error_code": "21211",
        "attempts": 1, "household_id": mine.id}
    assert clerk.get("/api/v1/sms/messages").json["total"] == 2
    assert clerk.get("/api/v1/sms/messages?region_code=640425101").status_code == 404
    assert clerk.get("/api/v1/sms/messages?status=lost").status_code == 400
    assert api_as("county_reviewer").get("/api/v1/sms/messages").json["total"] == 3


# --- numbers ----------------------------------------------------------------------------------

def test_sms_summary_counts_households_due_and_notified(db, county):
    a, b, c, d = (HouseholdFactory() for _ in range(4))
    other_county_free = HouseholdFactory(region_code=OTHER_VILLAGE)
    with time_machine.travel(datetime(2017, 6, 1, tzinfo=UTC)):
        MessageFactory(household_id=a.id, template="filing_approved", status=S.delivered)
        MessageFactory(household_id=a.id, template="payment_paid", status=S.failed)
        MessageFactory(household_id=b.id, template="filing_approved", status=S.sent)
        MessageFactory(household_id=c.id, template="filing_approved", status=S.undelivered)
        MessageFactory(household_id=d.id, template="broadcast", status=S.delivered)  # not owed
        MessageFactory(household_id=d.id, template="login_code", status=S.failed)  # not owed
        MessageFactory(household_id=other_county_free.id, region_code=OTHER_VILLAGE, template="filing_approved",
                       status=S.queued)
    with time_machine.travel(datetime(2018, 1, 2, tzinfo=UTC)):
        MessageFactory(household_id=d.id, template="filing_approved", status=S.failed)  # next year
    db.session.commit()
    summary = sms_summary("640425100", 2017)
    assert summary["households_due"] == 3 and summary["households_notified"] == 2
    assert summary["notification_rate"] == 0.667
    assert summary["delivered_rate"] == 0.5  # 2 delivered of sent 1 + delivered 2 + undelivered 1
    assert summary["messages"]["failed"] == 2
    county_wide = sms_summary("640425", 2017)
    assert county_wide["households_due"] == 4 and county_wide["notification_rate"] == 0.5
    assert sms_summary("640425", 2016) == {"households_due": 0, "households_notified": 0, "notification_rate": None,
                                           "delivered_rate": None, "messages": {s.value: 0 for s in S}}


# --- command line -----------------------------------------------------------------------------

def test_sms_send_enqueues_a_test_message_and_refuses_bad_input(db, county, runner):
    result = runner.invoke(args=["sms", "send", "139 1234 5678", "系统测试"])
    assert result.exit_code == 0, result.output
    [message] = all_messages()
    assert (message.template, message.to_phone, message.body) == ("test", "13912345678", "【彭阳县惠农】系统测试")
    bad = runner.invoke(args=["sms", "send", "0954-7012345", "x"])
    assert bad.exit_code == 1 and "手机" in bad.output
    empty = runner.invoke(args=["sms", "send", "13912345678", "  "])
    assert empty.exit_code == 1
    assert len(all_messages()) == 1
    assert reload(message.id).status == S.queued

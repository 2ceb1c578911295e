"""Twilio's status callbacks and inbound texts: signature checked against the public URL,
forged or tampered requests refused with nothing changed, duplicates and stale updates ignored."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.notify.models import InboundMessage, MessageStatus, OptOut
from tests.factories import HouseholdFactory
from tests.sms_fixtures import PUBLIC, e164, fake, make_worker, owe, reload, sms_transitions_guarded, twilio  # noqa: F401

S = MessageStatus


@pytest.fixture
def sent(db, county, twilio):
    """A message sent through the fake: (message id, its sid)."""
    message = owe(HouseholdFactory())
    make_worker().run_once()
    return message.id, reload(message.id).provider_sid


def _post(client, url, form, headers):
    return client.post(url, data=form, headers=headers)


def test_a_valid_callback_is_applied_once(client, twilio, sent):
    message_id, sid = sent
    url, form, headers = twilio.signed_callback(sid, "delivered")
    assert url == f"{PUBLIC}/sms/status?m={message_id}"
    assert _post(client, url, form, headers).status_code == 204
    first = reload(message_id)
    assert first.status == S.delivered and first.status_at is not None
    # Twilio retries a callback: same answer, nothing changes.
    assert _post(client, url, form, headers).status_code == 204
    assert reload(message_id).status_at == first.status_at


def test_the_signature_is_checked_against_the_public_url_behind_a_proxy(client, twilio, sent):
    """The app sees http://localhost/... (the proxy's hop); Twilio signed the public https URL."""
    message_id, sid = sent
    url, form, headers = twilio.signed_callback(sid, "delivered")
    assert _post(client, f"/sms/status?m={message_id}", form, headers).status_code == 204
    assert reload(message_id).status == S.delivered


@pytest.mark.parametrize("forgery", ["no_signature", "wrong_token", "tampered_status", "added_field",
                                     "other_message", "other_url"])
def test_a_forged_or_tampered_callback_is_refused_and_changes_nothing(client, twilio, sent, forgery):
    from twilio.request_validator import RequestValidator

    message_id, sid = sent
    url, form, headers = twilio.signed_callback(sid, "undelivered", 30005)
    if forgery == "no_signature":
        headers = {}
    elif forgery == "wrong_token":
        headers = {"X-Twilio-Signature": RequestValidator("guessed-token").compute_signature(url, form)}
    elif forgery == "tampered_status":
        form["MessageStatus"] = form["SmsStatus"] = "failed"
    elif forgery == "added_field":
        form["ErrorMessage"] = "injected"
    elif forgery == "other_message":
        url = url.replace(f"m={message_id}", f"m={message_id + 1}")
    elif forgery == "other_url":
        url = f"https://attacker.example.com/sms/status?m={message_id}"
        headers = {"X-Twilio-Signature": twilio.sign(url, form)}
    resp = _post(client, url, form, headers)
    assert resp.status_code == 403
    after = reload(message_id)
    assert (after.status, after.error_code, after.status_at) == (S.sent, None, None)


def test_no_auth_token_configured_refuses_everything(app, client, twilio, sent, monkeypatch):
    message_id, sid = sent
    url, form, headers = twilio.signed_callback(sid, "delivered")
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", "")
    assert _post(client, url, form, headers).status_code == 403
    assert reload(message_id).status == S.sent


def test_out_of_order_updates_are_ignored(client, twilio, sent):
    message_id, sid = sent
    for status in ("delivered", "sent", "queued", "undelivered"):
        assert _post(client, *twilio.signed_callback(sid, status)).status_code == 204
    after = reload(message_id)
    assert after.status == S.delivered and after.error_code is None  # final, never overwritten


def test_an_undelivered_report_keeps_the_reason_for_the_clerk(client, twilio, sent):
    message_id, sid = sent
    assert _post(client, *twilio.signed_callback(sid, "sending")).status_code == 204
    assert reload(message_id).status == S.sent
    assert _post(client, *twilio.signed_callback(sid, "undelivered", 30005)).status_code == 204
    after = reload(message_id)
    assert (after.status, after.error_code, after.problem_kind) == (S.undelivered, "30005", "号码有误")
    assert "号码不存在" in after.error_message


def test_a_callback_for_a_duplicates_sid_is_counted_not_applied(client, twilio, sent):
    message_id, sid = sent
    other = twilio._create({"To": "+8613900000000", "From": "+15005550006", "Body": "x",
                            "StatusCallback": f"{PUBLIC}/sms/status?m={message_id}"})
    assert _post(client, *twilio.signed_callback(other["sid"], "delivered")).status_code == 204
    after = reload(message_id)
    assert (after.status, after.provider_sid, after.provider_calls) == (S.sent, sid, 2)


def test_the_api_status_endpoint_takes_the_same_callbacks(client, twilio, sent):
    message_id, sid = sent
    url = f"{PUBLIC}/api/v1/sms/status?m={message_id}"
    _, form, _ = twilio.signed_callback(sid, "delivered", url=url)
    bad = client.post(url, data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert bad.status_code == 403 and bad.json["error"]["code"] == "forbidden"
    assert reload(message_id).status == S.sent
    good = client.post(url, data=form, headers={"X-Twilio-Signature": twilio.sign(url, form)})
    assert good.status_code == 204
    assert reload(message_id).status == S.delivered


def test_unknown_messages_are_acknowledged_and_ignored(client, twilio, db, county):
    url = f"{PUBLIC}/sms/status?m=999"
    form = {"MessageSid": "SMnope", "MessageStatus": "delivered"}
    assert client.post(url, data=form, headers={"X-Twilio-Signature": twilio.sign(url, form)}).status_code == 204


def test_inbound_text_is_kept_with_its_household_and_td_opts_out(client, twilio, db, county):
    household = HouseholdFactory()
    db.session.commit()
    url = f"{PUBLIC}/sms/inbound"
    form, headers = twilio.signed_inbound(url, e164(household.phone), "退订")
    resp = client.post(url, data=form, headers=headers)
    assert resp.status_code == 200 and b"<Response>" in resp.data
    assert client.post(url, data=form, headers=headers).status_code == 200  # Twilio retried
    kept = db.session.scalars(sa.select(InboundMessage)).all()
    assert [(m.from_phone, m.body, m.household_id) for m in kept] == [(household.phone, "退订", household.id)]
    assert db.session.get(OptOut, household.phone).source == "inbound"
    from subsidy.audit.models import AuditEvent

    audited = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sms.opt_out")).all()
    assert [(e.object_id, e.region_code) for e in audited] == [(household.phone, household.region_code)]

    question, headers = twilio.signed_inbound(url, e164(household.phone), "补贴什么时候到？")
    assert client.post(url, data=question, headers=headers).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 2


def test_a_forged_inbound_text_is_refused(client, twilio, db, county):
    household = HouseholdFactory()
    db.session.commit()
    url = f"{PUBLIC}/sms/inbound"
    form, headers = twilio.signed_inbound(url, e164(household.phone), "TD")
    form["From"] = "+8613800000000"
    assert client.post(url, data=form, headers=headers).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OptOut)) == 0

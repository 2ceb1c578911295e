"""Delivery status and inbound texts from Twilio (docs/design.md "SMS").

Signature: Twilio signs each webhook with HMAC-SHA1 (base64) over the URL it requested plus
the sorted form pairs, keyed by the auth token; `RequestValidator` checks it over the WHOLE
form (Twilio adds fields without notice, so no field list is assumed). The URL checked is
the public one, PUBLIC_BASE_URL + path + query string: the very callback URL we handed
Twilio. We deliberately do not trust `request.url`: behind a reverse proxy it is only right
if PROXY_FIX_HOPS matches the proxies exactly, and without ProxyFix its host comes from the
Host header, which would let anyone replay a request Twilio signed for another host of the
same account. So PUBLIC_BASE_URL must be the address Twilio reaches us at (it already is:
it builds the callback URL), whatever the proxies in between.

Status: updates arrive duplicated and out of order. A status only moves forward
(queued < sending < sent < delivered | undelivered | failed); a final status is never
overwritten. Both rules are the `reported_*` rows of the state machine (`lifecycle.MACHINE`), and
the change is one conditional UPDATE built from it, so two callbacks racing apply once.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from subsidy.audit import service as audit
from subsidy.common.database import upsert_insert
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.households.validation import check_phone
from subsidy.notify.gateways import reason_for
from subsidy.notify.lifecycle import MACHINE, REPORTED
from subsidy.notify.models import InboundMessage, Message, MessageStatus, OptOut

log = logging.getLogger("subsidy.sms")
M = Message.__table__
S = MessageStatus

# Twilio's status words → ours. Everything before delivery is, for us, "the provider has it".
PROVIDER_STATUS = {
    "accepted": S.sent, "scheduled": S.sent, "queued": S.sent, "sending": S.sent, "sent": S.sent,
    "delivered": S.delivered, "read": S.delivered,
    "undelivered": S.undelivered, "failed": S.failed, "canceled": S.cancelled,
}
OPT_OUT_WORDS = {"TD", "STOP", "UNSUBSCRIBE", "退订"}


def signature_valid(auth_token: str, url: str, form, signature: str | None) -> bool:
    """Whether `signature` signs the whole `form` posted to the public `url`."""
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, form, signature)


def public_url(public_base_url: str, path: str, query_string: bytes | str) -> str:
    query = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    return public_base_url.rstrip("/") + path + (f"?{query}" if query else "")


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def apply_status(message_id: int | None, sid: str | None, provider_status: str | None,
                 error_code: str | None = None) -> bool:
    """Apply one provider status report; True if it changed the message. The caller commits.

    The message is found by the outbox id we put in the callback URL, else by its sid. A
    report for a sid other than the one recorded is a duplicate's (the farmer got two): it
    is counted in provider_calls and otherwise ignored. A report for a message we have not
    recorded as sent (a timeout we are about to retry) adopts its sid, so the retry is not
    made: that is what the id in the URL is for."""
    target = PROVIDER_STATUS.get((provider_status or "").strip().lower())
    message_id = _int_or_none(message_id)
    row = None
    if message_id is not None:
        row = db.session.execute(sa.select(M.c.id, M.c.status, M.c.provider_sid).where(M.c.id == message_id)).first()
    if row is None and sid:
        row = db.session.execute(sa.select(M.c.id, M.c.status, M.c.provider_sid).where(M.c.provider_sid == sid)).first()
    if row is None or target is None:
        log.info("status %r for unknown message (m=%s, sid=%s) ignored", provider_status, message_id, sid)
        return False
    if row.provider_sid and sid and row.provider_sid != sid:
        db.session.execute(sa.update(M).where(M.c.id == row.id).values(provider_calls=_at_least(M.c.provider_calls, 2)))
        log.warning("status for duplicate %s of message %s (recorded %s) ignored", sid, row.id, row.provider_sid)
        return False
    now = utcnow()
    values = {"status_at": now}
    code = str(error_code) if error_code else None
    if target in (S.undelivered, S.failed):
        values.update(error_code=code, error_message=reason_for(code, "运营商未能送达")[:255])
    elif code:
        values.update(error_code=code, error_message=reason_for(code)[:255])
    if not row.provider_sid and sid:
        values.update(provider_sid=sid, sent_at=now, lease_owner=None, lease_expires_at=None,
                      provider_calls=_at_least(M.c.provider_calls, 1))
    return bool(db.session.execute(MACHINE.update(REPORTED[target], M.c.id == row.id, **values)).rowcount)


def _at_least(column, n: int):
    return sa.case((column < n, n), else_=column)


def household_for_phone(phone: str) -> int | None:
    """The household a number belongs to, if exactly one does (shared numbers stay unassigned)."""
    ids = list(db.session.scalars(sa.select(Household.id).where(Household.phone == phone).limit(2)))
    return ids[0] if len(ids) == 1 else None


def normalise_phone(raw: str) -> str:
    try:
        return check_phone(raw) or ""
    except ValueError:
        return "".join(ch for ch in (raw or "") if ch.isdigit() or ch == "+")[:20]


def receive_inbound(sid: str, from_phone: str, body: str) -> InboundMessage | None:
    """Keep a text a farmer sent (for the cases capability); "退订"/"TD" records an opt-out.
    A repeated delivery of the same text (same sid) is kept once. The caller commits."""
    if not sid:
        return None
    phone = normalise_phone(from_phone)
    household_id = household_for_phone(phone) if phone else None
    db.session.execute(upsert_insert(InboundMessage).values(
        provider_sid=sid[:64], from_phone=phone, body=body or "", household_id=household_id,
        received_at=utcnow(), handled=False).on_conflict_do_nothing(index_elements=["provider_sid"]))
    text = (body or "").strip().upper()
    if phone and (text in OPT_OUT_WORDS or "退订" in text):
        added = db.session.execute(upsert_insert(OptOut).values(
            phone=phone, source="inbound", note=f"农户短信回复“{body.strip()[:40]}”", created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["phone"]).returning(OptOut.phone)).first()
        if added is not None:
            # Every opt-out is on the record, whoever made it: one made up to silence a household
            # would otherwise be invisible.
            region = db.session.scalar(sa.select(Household.region_code).where(Household.id == household_id)) \
                if household_id else None
            audit.record(None, "sms.opt_out", "sms_opt_out", phone, region_code=region, source="inbound",
                         provider_sid=sid[:64], household_id=household_id)
    db.session.flush()
    return db.session.scalar(sa.select(InboundMessage).where(InboundMessage.provider_sid == sid[:64]))

"""The Twilio webhooks at the HTTP edge: signature check, then one service call.

Both are public (Twilio has no session) and CSRF-exempt (Twilio cannot send a token); the
signature is their authentication. A forged or tampered request gets 403 and changes
nothing (the request rolls back on any status >= 400)."""
from __future__ import annotations

import logging

from flask import current_app, request
from twilio.request_validator import SIGNATURE_HEADER

from subsidy.notify import status

log = logging.getLogger("subsidy.sms")


def request_is_from_twilio() -> bool:
    config = current_app.config
    ok = status.signature_valid(
        config.get("TWILIO_AUTH_TOKEN", ""),
        status.public_url(config["PUBLIC_BASE_URL"], request.path, request.query_string),
        request.form,
        request.headers.get(SIGNATURE_HEADER),
    )
    if not ok:
        log.warning("refused a Twilio webhook with a bad signature from %s to %s", request.remote_addr, request.path)
    return ok


def handle_status_callback() -> None:
    form = request.form
    status.apply_status(request.args.get("m"), form.get("MessageSid") or form.get("SmsSid"),
                        form.get("MessageStatus") or form.get("SmsStatus"), form.get("ErrorCode") or None)


def handle_inbound() -> None:
    form = request.form
    status.receive_inbound(form.get("MessageSid") or form.get("SmsSid") or "", form.get("From", ""),
                           form.get("Body", ""))

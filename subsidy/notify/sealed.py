"""Sign-in codes that no one can read (not a clerk on the SMS pages, not an admin with the
database): the outbox keeps the message masked, and the code exists only in the text handed to
the gateway, derived at sending time from the request's id with a key that is not in the
database. Whoever holds that key can forge a farmer's session anyway (it signs the cookies),
so deriving codes from it adds no one who could read them.

`subsidy.public.signin` asks for a code and checks it (against an HMAC of it, never the code);
`subsidy.notify.worker` fills it in."""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app

MASK = "******"


def _key() -> bytes:
    # A key of its own, derived from SECRET_KEY, so that a code is no signature of anything else.
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"sms-sign-in-codes", hashlib.sha256).digest()


def code_for(request_id: int) -> str:
    """The six-digit code of sign-in request `request_id`."""
    digest = hmac.new(_key(), f"code:{int(request_id)}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**6:06d}"


def unmask(body: str, request_id: int) -> str:
    """The text to send: the masked body with the request's code put in."""
    return body.replace(MASK, code_for(request_id), 1)

"""The farmer's session: separate from staff Flask-Login, kept under its own keys in the signed
session cookie, each with its own expiry, and ended on the server too: each names the sign-in
request whose code was typed (`s`), and 退出 marks that request signed out, so a copy of the
cookie taken before 退出 opens nothing after it (`subsidy.public.signin.session_open`).

- `farmer`: {"hh": household id, "s": request, "exp": epoch seconds} after an ID + code sign-in;
- `farmer_phone`: {"phone", "s", "exp"} after a mobile number alone was confirmed by code;
- `farmer_pending`: the code request waiting for its code ({"t": ticket, "p": purpose, ...}).
The household id here is the only one the "my ..." pages ever use: nothing personal is looked
up by an id taken from the URL."""
from __future__ import annotations

import time

from flask import current_app, request, session

from subsidy.common.access import client_address
from subsidy.common.actors import Farmer

HOUSEHOLD_KEY = "farmer"
PHONE_KEY = "farmer_phone"
PENDING_KEY = "farmer_pending"
REGION_KEY = "farmer_region"


def _ttl() -> int:
    return int(current_app.config["MOBILE_SESSION_MINUTES"]) * 60


def _live(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    try:
        if float(value.get("exp", 0)) <= time.time():
            return None
    except (TypeError, ValueError):
        return None
    return value


def _session(key: str) -> dict | None:
    """The live value under `key`, if its sign-in request has not been signed out (asked of the
    database once per request and key); a dead one is dropped from the cookie."""
    value = _live(session.get(key))
    if value is not None:
        cache = request.environ.setdefault("subsidy.farmer_sessions", {})
        if key not in cache:
            from subsidy.public.signin import session_open

            cache[key] = session_open(value.get("s"))
        if not cache[key]:
            value = None
    if value is None and key in session:
        session.pop(key)
    return value


def sign_in(household_id: int, request_id: int) -> None:
    session.pop(PENDING_KEY, None)
    session[HOUSEHOLD_KEY] = {"hh": int(household_id), "s": int(request_id), "exp": time.time() + _ttl()}


def sign_out() -> None:
    """退出: end the sessions on the server, then forget them here."""
    from subsidy.public.signin import end_sessions

    end_sessions([v.get("s") for v in (session.get(HOUSEHOLD_KEY), session.get(PHONE_KEY)) if isinstance(v, dict)])
    for key in (HOUSEHOLD_KEY, PHONE_KEY, PENDING_KEY):
        session.pop(key, None)
    request.environ.pop("subsidy.farmer_sessions", None)


def household_id() -> int | None:
    value = _session(HOUSEHOLD_KEY)
    return None if value is None else int(value["hh"])


def confirm_phone(phone: str, request_id: int) -> None:
    session.pop(PENDING_KEY, None)
    session[PHONE_KEY] = {"phone": phone, "s": int(request_id), "exp": time.time() + _ttl()}


def confirmed_phone() -> str | None:
    value = _session(PHONE_KEY)
    return value["phone"] if value else None


def actor(phone: str | None = None) -> Farmer:
    """The farmer acting in this request, for the audit log: the household signed in (else the
    confirmed number), the session it acts under, and the address it comes from."""
    hh = _session(HOUSEHOLD_KEY)
    confirmed = _session(PHONE_KEY)
    current = hh or confirmed or {}
    return Farmer(household_id=int(hh["hh"]) if hh else None,
                  phone=phone or (confirmed or {}).get("phone"), session=current.get("s"), address=client_address())


def set_pending(ticket_id: int, purpose: str, phone_masked: str, next_url: str | None) -> None:
    session[PENDING_KEY] = {"t": int(ticket_id), "p": purpose, "m": phone_masked, "n": next_url or "",
                            "exp": time.time() + 10 * 60}


def pending() -> dict | None:
    return _live(session.get(PENDING_KEY))


def remember_region(code: str) -> None:
    """The village (or county) the visitor last came through, to show its policies at home."""
    session[REGION_KEY] = code


def remembered_region() -> str | None:
    return session.get(REGION_KEY)

"""The farmer's session: separate from staff Flask-Login, kept under its own keys in the signed
session cookie, each with its own expiry (issue 6).

- `farmer`: {"hh": household id, "exp": epoch seconds} after a successful ID + code sign-in;
- `farmer_phone`: {"phone", "exp"} after a mobile number alone was confirmed by code;
- `farmer_pending`: the code request waiting for its code ({"t": ticket, "p": purpose, ...}).
The household id here is the only one the "my ..." pages ever use: nothing personal is looked
up by an id taken from the URL."""
from __future__ import annotations

import time

from flask import current_app, session

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


def sign_in(household_id: int) -> None:
    session.pop(PENDING_KEY, None)
    session[HOUSEHOLD_KEY] = {"hh": int(household_id), "exp": time.time() + _ttl()}


def sign_out() -> None:
    for key in (HOUSEHOLD_KEY, PHONE_KEY, PENDING_KEY):
        session.pop(key, None)


def household_id() -> int | None:
    value = _live(session.get(HOUSEHOLD_KEY))
    if value is None:
        if HOUSEHOLD_KEY in session:
            session.pop(HOUSEHOLD_KEY)
        return None
    return int(value["hh"])


def confirm_phone(phone: str) -> None:
    session.pop(PENDING_KEY, None)
    session[PHONE_KEY] = {"phone": phone, "exp": time.time() + _ttl()}


def confirmed_phone() -> str | None:
    value = _live(session.get(PHONE_KEY))
    return value["phone"] if value else None


def set_pending(ticket_id: int, purpose: str, phone_masked: str, next_url: str | None) -> None:
    session[PENDING_KEY] = {"t": int(ticket_id), "p": purpose, "m": phone_masked, "n": next_url or "",
                            "exp": time.time() + 10 * 60}


def pending() -> dict | None:
    return _live(session.get(PENDING_KEY))


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)


def remember_region(code: str) -> None:
    """The village (or county) the visitor last came through, to show its policies at home."""
    session[REGION_KEY] = code


def remembered_region() -> str | None:
    return session.get(REGION_KEY)

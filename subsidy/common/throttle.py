"""Throttling of sign-in attempts by failures, never by successes (docs/design.md §6).

A county office or a carrier's NAT puts many honest people behind one address: counting their
successful sign-ins would refuse the 21st clerk of the morning. So the limits at the edge
(Flask-Limiter, `deduct_when=counts_failure`) are tested on every attempt but charged only for
the attempts the view marked as failed with `failed()`:

- per address: failures of any account (someone guessing across many accounts);
- per (account, address): failures of one account from one address, so that an attacker's
  failures from elsewhere never lock the owner out at their own desk;
- per account across all addresses: no refusal at all, but an alert to the county admin and
  the supervisor (`subsidy.accounts.service.record_failed_sign_in`).

The farmers' SMS codes keep their per-number limits (`subsidy.public.signin`)."""
from __future__ import annotations

from flask import request

from subsidy.common.access import client_address

# A mark kept on the request itself (its WSGI environ), never on `g`, which an app context
# reused across requests (tests, scripts) would carry from one request to the next.
_FAILED = "subsidy.throttle.failed"


def failed() -> None:
    """This attempt failed: charge the limits marked `deduct_when=counts_failure`."""
    request.environ[_FAILED] = True


def counts_failure(_response) -> bool:
    return bool(request.environ.get(_FAILED))


def typed_username() -> str:
    """The username of a staff sign-in attempt, from the form or the API's JSON body."""
    if request.is_json:
        data = request.get_json(silent=True)
        name = data.get("username", "") if isinstance(data, dict) else ""
    else:
        name = request.form.get("username", "")
    return str(name or "").strip().lower()[:40]


def account_address_key() -> str:
    return f"sign-in:{typed_username()}@{client_address()}"

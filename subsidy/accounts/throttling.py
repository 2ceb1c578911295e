"""The staff sign-in limits, shared by the sign-in page and `POST /api/v1/auth/token` (one
scope: a guesser gains nothing by switching between them). See `subsidy.common.throttle`."""
from __future__ import annotations

from flask import current_app

from subsidy.common import throttle
from subsidy.common.access import client_address
from subsidy.extensions import limiter


def _audit_lock_out(_limit) -> None:
    """A sign-in refused by a limit is a lock-out of that name at that address: on the record."""
    from subsidy.accounts.service import record_throttled_sign_in

    record_throttled_sign_in(throttle.typed_username(), client_address())


def sign_in_limits(methods: list[str] | None = None):
    per_address = limiter.shared_limit(lambda: current_app.config["LOGIN_FAILURES_PER_ADDRESS"],
                                       scope="staff-sign-in-address", methods=methods,
                                       deduct_when=throttle.counts_failure, on_breach=_audit_lock_out)
    per_account_address = limiter.shared_limit(lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"],
                                               scope="staff-sign-in-account", key_func=throttle.account_address_key,
                                               methods=methods, deduct_when=throttle.counts_failure,
                                               on_breach=_audit_lock_out)

    def decorate(view):
        return per_address(per_account_address(view))

    return decorate

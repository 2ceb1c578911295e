"""The staff sign-in limits, shared by the sign-in page and `POST /api/v1/auth/token` (one
scope: a guesser gains nothing by switching between them). See `subsidy.common.throttle`."""
from __future__ import annotations

from flask import current_app

from subsidy.common import throttle
from subsidy.extensions import limiter


def sign_in_limits(methods: list[str] | None = None):
    per_address = limiter.shared_limit(lambda: current_app.config["LOGIN_FAILURES_PER_ADDRESS"],
                                       scope="staff-sign-in-address", methods=methods,
                                       deduct_when=throttle.counts_failure)
    per_account_address = limiter.shared_limit(lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT_ADDRESS"],
                                               scope="staff-sign-in-account", key_func=throttle.account_address_key,
                                               methods=methods, deduct_when=throttle.counts_failure)

    def decorate(view):
        return per_address(per_account_address(view))

    return decorate

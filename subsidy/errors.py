"""Domain exceptions raised by services; the HTML and API edges turn them into
messages and status codes (see `subsidy.api.errors` and `subsidy.web`)."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class ValidationError(DomainError):
    status = 400
    code = "invalid"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class AboveCounty(PermissionDenied):
    """A county's own work asked of a user above the county (a city user): refused until the
    work is written for a prefecture, instead of answering as if the city were a county."""

    def __init__(self, message: str = "此功能仅供县级及以下用户使用", **kw):
        super().__init__(message, **kw)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StaleVersion(Conflict):
    code = "stale_version"

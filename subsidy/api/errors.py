"""The API's error shape (docs/api.md): {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

from flask import jsonify

_HTTP_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def http_code(status: int) -> str:
    return _HTTP_CODES.get(status, "error")


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return jsonify(body), status

"""Request bodies in JSON, parsed strictly and within bounds.

Python's parser recurses once per level of nesting: a body of 100,000 `[` (200 KB, far under
MAX_CONTENT_LENGTH) raises RecursionError, which is no ValueError, so Flask's `get_json` let it
through as a 500, even on `POST /auth/token` before anyone signed in. Here a body nested deeper
than MAX_JSON_DEPTH is refused (as invalid JSON: `get_json(silent=True)` gives None, otherwise
400 with a message), whatever the parser does with it.

Numbers with a fraction or an exponent are read as Decimal, never float: `1e400` would become
float infinity and `0.1` a binary approximation, while as Decimal both reach the field's own
check (`subsidy.common.money.parse_amount`) and are refused there by name. NaN and Infinity,
which are not JSON, are read the same way and refused by the same check.

Only requests parse this way (`EdgeRequest.json_module`); responses, and the test client reading
them, keep Flask's JSON."""
from __future__ import annotations

import json
from decimal import Decimal

from flask import Request
from flask import json as flask_json

from subsidy.errors import ValidationError

MAX_JSON_DEPTH = 32  # the API's bodies are two or three levels deep


class JSONTooDeep(ValueError):
    pass


def _too_deep(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def loads(data: str | bytes, **kwargs):
    kwargs.setdefault("parse_float", Decimal)
    kwargs.setdefault("parse_constant", Decimal)
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise JSONTooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if isinstance(value, (dict, list)):
        raw = isinstance(data, bytes)
        opening = data.count(b"[" if raw else "[") + data.count(b"{" if raw else "{")
        if opening > MAX_JSON_DEPTH and _too_deep(value, MAX_JSON_DEPTH):
            raise JSONTooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


class _RequestJSON:
    """What `Request.get_json` calls: strict loads, Flask's dumps."""

    loads = staticmethod(loads)
    dumps = staticmethod(flask_json.dumps)


class EdgeRequest(Request):
    # Flask's request context assigns `request.json_module = app.json` (responses' JSON); bodies
    # keep the strict reader whatever is assigned.
    @property
    def json_module(self):
        return _RequestJSON

    @json_module.setter
    def json_module(self, _value) -> None:
        pass

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # not a JSON content type: Flask's 415
            return super().on_json_loading_failed(e)
        if isinstance(e, JSONTooDeep):
            raise ValidationError(f"JSON 嵌套层数过多（最多 {MAX_JSON_DEPTH} 层）",
                                  fields={"body": f"嵌套不超过 {MAX_JSON_DEPTH} 层"})
        raise ValidationError("请求体不是有效的 JSON", fields={"body": "不是有效的 JSON"})

"""Jurisdiction: the one place where "everything under a region" is decided.

docs/design.md "Jurisdiction": a region's scope is a code range. Codes are digit strings in their
short form (6, 9 or 12 digits); every string that starts with a prefix P lies in
[P, P + '9' * (12 - len(P))] and no other digit string does, so one indexed range covers both
village-level rows (12-digit `region_code`) and the regions table itself. Every query that
lists rows by region goes through `within`; single objects go through `ensure_visible`.
"""
from __future__ import annotations

import re

from subsidy.errors import NotFound, ValidationError

CODE_RE = re.compile(r"^\d{6}(\d{3}){0,2}$")


def normalize_code(code: str | int | None) -> str:
    """Accept 6/9/12-digit codes, and the 12-digit padded form of a county or township."""
    text = str(code or "").strip()
    if not CODE_RE.match(text):
        raise ValidationError("行政区划代码应为 6、9 或 12 位数字", fields={"region_code": "行政区划代码格式不正确"})
    if len(text) == 12 and text.endswith("000000"):
        return text[:6]
    if len(text) == 12 and text.endswith("000"):
        return text[:9]
    return text


def code_range(code: str) -> tuple[str, str]:
    return code, code + "9" * (12 - len(code))


def within(column, code: str):
    """SQL condition: `column` holds a code at or under region `code`."""
    lo, hi = code_range(code)
    return column.between(lo, hi)


def covers(scope_code: str, code: str | None) -> bool:
    """Python twin of `within`, for a single object already loaded."""
    return bool(code) and code.startswith(scope_code)


def ensure_visible(actor, code: str | None, what: str = "记录"):
    """Refuse an object outside the actor's region as if it did not exist (404), so that a
    clerk cannot probe which ID numbers another village has."""
    if not covers(actor.region_code, code):
        raise NotFound(f"{what}不存在或不在您的管辖范围内")


def get_visible(actor, model, object_id, what: str = "记录", *, scope: str = "region_code"):
    """The `model` row `object_id` if it lies in the actor's region (its `scope` attribute holds
    the code), else NotFound, as if it did not exist: the one get-or-404 of every service."""
    from subsidy.extensions import db

    try:
        obj = db.session.get(model, int(object_id)) if object_id is not None else None
    except (TypeError, ValueError):
        obj = None
    if obj is None or not covers(actor.region_code, getattr(obj, scope)):
        raise NotFound(f"{what}不存在或不在您的管辖范围内")
    return obj

"""Jurisdiction: the one place where "everything under a region" is decided.

docs/design.md "Jurisdiction": a region's scope is a code range. Codes are digit strings in their
short form (2, 4, 6, 9 or 12 digits: province, prefecture, county, township, village); every
string that starts with a prefix P lies in [P, P + '9' * (12 - len(P))] and no other digit
string does, so one indexed range covers both village-level rows (12-digit `region_code`) and
the regions table itself. Every query that lists rows by region goes through `within`; single
objects go through `ensure_visible`.
"""
from __future__ import annotations

import re

from subsidy.errors import NotFound, ValidationError
from subsidy.regions.models import CODE_LENGTH

CODE_RE = re.compile(r"^(\d{2}|\d{4}|\d{6}|\d{9}|\d{12})$")
# The significant widths, top-down.
WIDTHS = tuple(sorted(CODE_LENGTH.values()))


def normalize_code(code: str | int | None) -> str:
    """Accept 2/4/6/9/12-digit codes; the 12-digit padded form of any higher level
    (640000000000 → 64, 640400000000 → 6404, 640425000000 → 640425, 640425100000 → 640425100);
    and the official 6-digit form of a province or prefecture (640000 → 64, 640400 → 6404: GB/T 2260
    writes those with 6 digits, and no county's own two digits are 00, so it is unambiguous)."""
    text = str(code or "").strip()
    if not CODE_RE.match(text):
        raise ValidationError("行政区划代码应为 2、4、6、9 或 12 位数字",
                              fields={"region_code": "行政区划代码格式不正确"})
    if len(text) in (6, 12):
        # Drop zero segments from the right, as long as what is dropped is only zeros.
        short = text
        for width in reversed(WIDTHS):
            if width < len(text) and text[width:] == "0" * (len(text) - width):
                short = text[:width]
        return short
    return text


def ancestors(code: str) -> list[str]:
    """The codes of the regions above `code`, top-down (640425100201 → 64, 6404, 640425,
    640425100): one rule, driven by CODE_LENGTH, for every reader that walks upwards instead of
    widths written out at each caller."""
    return [code[:width] for width in WIDTHS if width < len(code)]


def county_scope(code: str) -> str:
    """The range of county-owned rows (projects, batches, policies, watch lists: a `county_code`)
    a user at `code` reads: the county of a user at or under a county, the user's own region
    above it (a city user reads each of its counties'). Not `code[:6]` by accident: a 4-digit code
    is kept on purpose, and compared with `within`, never `==`."""
    return code[:6]


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

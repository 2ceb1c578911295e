"""Integers from the outside world, checked once at the edge.

Every id column is an INTEGER: 32 bits on PostgreSQL ("integer out of range" beyond 2**31-1),
64 on SQLite (OverflowError beyond 2**63-1). A larger number in a query is a driver error, a 500,
so ids, page numbers and years are bounded before they reach a query, by the tighter of the two
(MAX_ID; a move of the ids to BIGINT would raise it to 2**63-1 with a migration):

- path ids: `IdConverter` replaces Werkzeug's `int` converter for every rule (an id outside
  1..MAX_ID is a 404, like any id that does not exist);
- query-string integers: `arg_int` (and `page_arg`, `year_arg`) answer 400 with the field named
  on the API and fall back to the default on pages, where a mangled link should still show
  something;
- form ids: `form_id` turns '', 'abc' or 99999999999999999999 into a field error;
- JSON bodies: the bounded pydantic types of `subsidy.api.spec` use the same limits.
"""
from __future__ import annotations

from flask import request
from werkzeug.routing import IntegerConverter

from subsidy.errors import ValidationError

MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL, the id columns of every table
MAX_BIGINT = 2**63 - 1  # BIGINT columns (a receipt sample's seed)
MAX_PAGE = 10**9  # a page beyond any list; keeps (page - 1) × per_page far inside 64 bits
MAX_PER_PAGE = 200  # docs/api.md "Lists"
YEAR_MIN, YEAR_MAX = 2000, 2100  # years the platform knows (projects, statistics, the calendar)


def _at_most(bound: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..bound, no leading zeros."""
    digits = str(bound)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else ""
    same_length = []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = len(digits) - i - 1
            same_length.append(f"{digits[:i]}[{low}-{int(d) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    same_length.append(digits)
    return "(?:" + "|".join(filter(None, [shorter, *same_length])) + ")"


class IdConverter(IntegerConverter):
    """Werkzeug's `int` converter bounded to 1..MAX_ID. The bound is in the regular expression
    itself: an id out of range (0, 2**63, thousands of digits) matches no rule, so it is a 404
    like any id that does not exist, whatever the method. A range check in `to_python` alone
    would not do: Werkzeug answers 405 when a rule for another method matched the path before
    the conversion failed (PATCH /households/0 → "only GET allowed")."""

    regex = _at_most(MAX_ID)

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=False)


def install(app) -> None:
    """Every `<int:…>` of every rule is an id: call before any blueprint is registered."""
    app.url_map.converters["int"] = IdConverter


def _is_api() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def parse_int(text, lo: int, hi: int) -> int | None:
    """The integer `text` spells (ASCII digits, optional sign) if within lo..hi, else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if lo <= text <= hi else None
    text = str(text).strip() if text is not None else ""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or len(digits) > 19 or not digits.isascii() or not digits.isdigit():
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def _range_message(lo: int, hi: int) -> str:
    return f"应为 {lo}–{hi} 之间的整数"


def arg_int(name: str, *, lo: int = 1, hi: int = MAX_ID, default: int | None = None,
            message: str | None = None, source=None) -> int | None:
    """An integer query (or form) argument within lo..hi. Absent or empty: `default`. Anything
    else: on the API a 400 naming the field; on a page the default (a mangled link shows the
    default page rather than an error)."""
    args = request.args if source is None else source
    raw = args.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    value = parse_int(raw, lo, hi)
    if value is None:
        if _is_api():
            text = message or _range_message(lo, hi)
            raise ValidationError(f"参数 {name} 不正确：{text}", fields={name: text})
        return default
    return value


def id_arg(name: str, source=None) -> int | None:
    """An optional id in the query string (`?project_id=`, `?household_id=`) or a form."""
    return arg_int(name, lo=1, hi=MAX_ID, source=source)


def page_arg(name: str = "page") -> int:
    return arg_int(name, lo=1, hi=MAX_PAGE, default=1)


def per_page_arg(default: int = 50) -> int:
    return arg_int("per_page", lo=1, hi=MAX_PER_PAGE, default=default)


def year_arg(name: str = "year", source=None) -> int | None:
    """An optional year; out of range → 400 on the API, this year (None) on pages."""
    return arg_int(name, lo=YEAR_MIN, hi=YEAR_MAX, default=None, source=source,
                   message=f"应为 {YEAR_MIN}–{YEAR_MAX} 之间的年份")


def check_year(value, field: str = "year") -> int:
    """A year given to a service (int or text): 2000–2100, or a ValidationError naming `field`."""
    year = parse_int(value, YEAR_MIN, YEAR_MAX)
    if year is None:
        raise ValidationError("年份不正确", fields={field: f"应为 {YEAR_MIN}–{YEAR_MAX} 之间的年份"})
    return year


def form_id(value, field: str, label: str = "编号", *, required: bool = False) -> int | None:
    """An id posted in a form or JSON (text or int). Empty: None (or an error if required);
    not a whole number in 1..MAX_ID: a ValidationError on `field`, never int('') crashing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"请填写{label}", fields={field: f"请填写{label}"})
        return None
    number = parse_int(value, 1, MAX_ID)
    if number is None:
        text = str(value).strip()
        if text.isascii() and text.isdigit() and int(text) > 0:  # a number, but no id is that large
            raise ValidationError(f"{label}不存在", fields={field: f"{label}不存在"})
        raise ValidationError(f"{label}不正确", fields={field: f"{label}应为正整数"})
    return number


def form_ids(values, field: str, label: str = "编号") -> list[int]:
    """A list of posted ids (`filing_ids`, `payment_ids`); any bad one is a field error."""
    return [form_id(v, field, label, required=True) for v in values]

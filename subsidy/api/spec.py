"""Routes of the JSON API with their contract in one place.

`route()` parses and validates the JSON body with a pydantic model (bad input → 400 with a
message per field), serialises the answer, and records path, models and status so that
`/api/v1/openapi.json` is generated from the code that serves it."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Annotated

from flask import jsonify, request
from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic import ValidationError as PydanticError

from subsidy.api import bp
from subsidy.common import params
from subsidy.common.money import MONEY_MAX, MONEY_PATTERN, fmt, parse_amount
from subsidy.errors import ValidationError


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    public: bool
    tag: str
    query: dict = field(default_factory=dict)
    multipart: dict = field(default_factory=dict)
    list_response: bool = False
    errors: tuple[int, ...] = ()  # error statuses beyond the common ones (e.g. 401 of a sign-in, 413)


OPERATIONS: list[Operation] = []

# Money and areas travel as strings with two decimals (docs/api.md).
MoneyStr = Annotated[Decimal, PlainSerializer(fmt, return_type=str)]

# ---- bounded input types: the limits the code enforces, stated in the OpenAPI document too.

# Ids of rows: INTEGER columns, 1..2**31-1 (the path converter and `params.form_id` use the same range).
Id = Annotated[int, Field(ge=1, le=params.MAX_ID)]
# Optimistic-locking versions and other counters that are never negative.
Version = Annotated[int, Field(ge=0, le=2**31 - 1)]
Year = Annotated[int, Field(ge=params.YEAR_MIN, le=params.YEAR_MAX)]


def _amount(label: str, maximum: Decimal, minimum: Decimal | None):
    def check(value):
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"{label}应为数字")
        return parse_amount(value, label=label, maximum=maximum, minimum=minimum)
    return check


def money_in(label: str = "金额", *, minimum: Decimal | None = Decimal("0"), maximum: Decimal = MONEY_MAX,
             pattern: str = MONEY_PATTERN):
    """A money (or area, quantity, rate) field of a JSON body: a string like "1234.50" (a JSON
    number is read too), checked by `subsidy.common.money.parse_amount`, documented as a string
    with its pattern and bounds."""
    if minimum is None or minimum < 0:
        pattern = pattern.replace("^", "^-?", 1)
    schema = {"type": "string", "pattern": pattern, "examples": ["105.00"],
              "description": f"decimal string, at most two decimals, "
                             f"{minimum if minimum is not None else -maximum}..{maximum}"}
    return Annotated[Decimal, BeforeValidator(_amount(label, maximum, minimum)), WithJsonSchema(schema)]


MoneyIn = money_in()


# Checked by `subsidy.regions.scope.normalize_code` (with its own message); documented here:
# a province (2 digits), prefecture (4), county (6), township (9) or village (12).
REGION_PATTERN = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$"
RegionCode = Annotated[str, WithJsonSchema({"type": "string", "pattern": REGION_PATTERN, "maxLength": 12})]


def enum_str(values, description: str = ""):
    """A string the service parses against an enum (with its own message); documented as the enum."""
    values = [v.value if isinstance(v, Enum) else v for v in values]
    schema = {"type": "string", "enum": values}
    if description:
        schema["description"] = description
    return Annotated[str, WithJsonSchema(schema)]


_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "最多两位小数",
    "finite_number": "应为有限的数字",
    "string_pattern_mismatch": "格式不正确",
    "too_long": "项数太多",
    "list_type": "应为列表",
    "float_parsing": "应为数字",
    "bool_parsing": "应为是或否",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "string_too_short": "不能为空",
    "string_too_long": "太长",
    "greater_than": "数值太小",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "extra_forbidden": "不认识的字段",
    "model_type": "应为 JSON 对象",
}


def _message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our own checks raise ValueError with the message to show
    if kind == "string_too_long" and "max_length" in ctx:
        return f"不超过 {ctx['max_length']} 字"
    if kind in ("less_than_equal", "greater_than_equal") and ("le" in ctx or "ge" in ctx):
        return f"应不大于 {ctx['le']}" if "le" in ctx else f"应不小于 {ctx['ge']}"
    return _PYDANTIC_MESSAGES.get(kind, err["msg"])


def pydantic_fields(exc: PydanticError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(name, _message(err))
    return fields


def request_json():
    """The request's JSON body: None when there is none (or it is not JSON); a body that is
    not valid JSON, or is nested too deep, is a 400 (`subsidy.common.jsonbody`)."""
    if not request.is_json or not request.get_data(cache=True):
        return None
    return request.get_json()


def parse_body(model: type[BaseModel]):
    data = request_json()
    if not isinstance(data, dict):
        raise ValidationError("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise ValidationError("输入有误，请检查各字段", fields=pydantic_fields(exc)) from exc


def dump(model: type[BaseModel], obj) -> dict:
    return model.model_validate(obj, from_attributes=True).model_dump(mode="json")


def route(rule: str, method: str, *, summary: str, body=None, response=None, status: int = 200,
          public: bool = False, tag: str = "", query: dict | None = None, multipart: dict | None = None,
          list_response: bool = False, errors: tuple[int, ...] = ()):
    """Register an API view. The view gets the parsed body (if any) as `body=` and returns
    either a Flask response or an object/dict to serialise with `response`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if body is not None:
                kwargs["body"] = parse_body(body)
            result = view(**kwargs)
            if isinstance(result, tuple) or hasattr(result, "status_code"):
                return result
            if result is None:
                return "", status
            if response is not None and not isinstance(result, dict):
                result = dump(response, result)
            return jsonify(result), status

        if public:
            wrapper.is_public = True
        endpoint = f"{view.__module__.split('.')[1]}_{view.__name__}"
        bp.add_url_rule(rule, endpoint=endpoint, view_func=wrapper, methods=[method])
        OPERATIONS.append(Operation(rule, method, summary, body, response, status, public, tag,
                                    query or {}, multipart or {}, list_response,
                                    tuple(errors) + ((413,) if multipart else ())))
        return wrapper

    return decorator


def page_json(model: type[BaseModel], page) -> dict:
    """docs/api.md "Lists": {"items": [...], "page", "per_page", "total"}."""
    return {"items": [model.model_validate(x, from_attributes=True).model_dump(mode="json") for x in page.items],
            "page": page.page, "per_page": page.per_page, "total": page.total}


def page_args() -> tuple[int, int]:
    """`?page=&per_page=` of a list: 400 outside 1..MAX_PAGE and 1..200."""
    return params.page_arg(), params.per_page_arg()


# ---- query parameters as documented: (description, JSON schema) for `route(query=...)`.

def q(description: str = "", **schema) -> dict:
    return {"description": description, "schema": schema or {"type": "string"}}


def q_int(description: str = "", minimum: int = 1, maximum: int = params.MAX_ID) -> dict:
    return q(description, type="integer", minimum=minimum, maximum=maximum)


def q_enum(values, description: str = "") -> dict:
    return q(description, type="string", enum=[v.value if isinstance(v, Enum) else v for v in values])


def q_text(description: str = "", max_length: int = 100) -> dict:
    return q(description, type="string", maxLength=max_length)


Q_PAGE = q_int("page number, from 1", 1, params.MAX_PAGE)
Q_PER_PAGE = q_int(f"items per page, 1..{params.MAX_PER_PAGE} (default 50)", 1, params.MAX_PER_PAGE)
Q_YEAR = q_int("year; default: this year", params.YEAR_MIN, params.YEAR_MAX)
Q_REGION = q("2, 4, 6, 9 or 12 digits", type="string", pattern=REGION_PATTERN)
Q_ID = q_int("id")
PAGING = {"page": Q_PAGE, "per_page": Q_PER_PAGE}


def import_answer(result):
    """docs/api.md imports: {created, updated, errors}; with any bad row nothing is written and the
    answer is 400 carrying both shapes at once, the rows and the standard error envelope, so a
    generic client sees an error and a specific one sees which rows to fix."""
    body = result.as_dict()
    if result.ok:
        return body
    body["error"] = {"code": "invalid_rows", "fields": {},
                     "message": f"文件中有 {result.error_count} 处错误，没有写入任何数据"}
    return jsonify(body), 400

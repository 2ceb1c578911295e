"""Routes of the JSON API with their contract in one place.

`route()` parses and validates the JSON body with a pydantic model (bad input → 400 with a
message per field), serialises the answer, and records path, models and status so that
`/api/v1/openapi.json` is generated from the code that serves it."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from decimal import Decimal
from typing import Annotated

from flask import jsonify, request
from pydantic import BaseModel, PlainSerializer
from pydantic import ValidationError as PydanticError

from subsidy.api import bp
from subsidy.common.money import fmt
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


OPERATIONS: list[Operation] = []

# Money and areas travel as strings with two decimals (API.md).
MoneyStr = Annotated[Decimal, PlainSerializer(fmt, return_type=str)]

_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "最多两位小数",
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


def pydantic_fields(exc: PydanticError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(name, _PYDANTIC_MESSAGES.get(err["type"], err["msg"]))
    return fields


def parse_body(model: type[BaseModel]):
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationError("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise ValidationError("输入有误，请检查各字段", fields=pydantic_fields(exc)) from exc


def dump(model: type[BaseModel], obj) -> dict:
    return model.model_validate(obj, from_attributes=True).model_dump(mode="json")


def route(rule: str, method: str, *, summary: str, body=None, response=None, status: int = 200,
          public: bool = False, tag: str = "", query: dict | None = None, multipart: dict | None = None,
          list_response: bool = False):
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
                                    query or {}, multipart or {}, list_response))
        return wrapper

    return decorator


def page_json(model: type[BaseModel], page) -> dict:
    """API.md "Lists": {"items": [...], "page", "per_page", "total"}."""
    return {"items": [model.model_validate(x, from_attributes=True).model_dump(mode="json") for x in page.items],
            "page": page.page, "per_page": page.per_page, "total": page.total}


def page_args() -> tuple[int, int]:
    from subsidy.common.pagination import clamp

    return clamp(request.args.get("page"), request.args.get("per_page"))


def import_answer(result):
    """API.md imports: {created, updated, errors}; with any bad row nothing is written and the
    answer is 400 carrying both shapes at once, the rows and the standard error envelope, so a
    generic client sees an error and a specific one sees which rows to fix."""
    body = result.as_dict()
    if result.ok:
        return body
    body["error"] = {"code": "invalid_rows", "fields": {},
                     "message": f"文件中有 {result.error_count} 处错误，没有写入任何数据"}
    return jsonify(body), 400

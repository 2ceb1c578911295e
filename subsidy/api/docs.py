"""The OpenAPI 3 document, built from `spec.OPERATIONS`, and a browsable page for it."""
from __future__ import annotations

import re

from flask import jsonify, render_template

from subsidy.api.spec import OPERATIONS, REGION_PATTERN, route
from subsidy.common.params import MAX_ID

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["code", "message"],
        }
    },
}


def _schema_ref(model, components: dict, mode: str = "validation") -> dict:
    """A model's schema as it is read (request bodies) or as it is written (answers: aliases,
    money as strings)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# Path parameters as the URL rules take them: `<int:…>` is an id (`subsidy.common.params.IdConverter`).
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
PATH_SCHEMAS = {
    "code": {"type": "string", "pattern": REGION_PATTERN},
    "action": {"type": "string", "enum": ["publicize", "withdraw", "submit", "approve", "return"]},
}


def _path_params(rule: str) -> list[dict]:
    out = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", rule):
        schema = ID_SCHEMA if converter == "int" else PATH_SCHEMAS.get(name, {"type": "string"})
        out.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
    return out


def _query_param(name: str, spec) -> dict:
    """`route(query=…)` values: a description (a string parameter) or `spec.q(...)`'s dict."""
    if isinstance(spec, str):
        spec = {"description": spec, "schema": {"type": "string"}}
    return {"name": name, "in": "query", "required": False, "schema": dict(spec["schema"]),
            "description": spec.get("description", "")}


def build_openapi() -> dict:
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for op in OPERATIONS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/api/v1" + op.rule)
        item: dict = {"summary": op.summary, "tags": [op.tag] if op.tag else [], "responses": {}}
        params = _path_params(op.rule)
        params += [_query_param(n, d) for n, d in op.query.items()]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": _schema_ref(op.body, components)}}}
        if op.multipart:
            item["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "properties": {n: {"type": "string", "format": "binary", "description": d}
                               for n, d in op.multipart.items()}}}}}
        ok: dict = {"description": "OK"}
        if op.response is not None:
            ref = _schema_ref(op.response, components, "serialization")
            if op.list_response:
                ref = {"type": "object", "properties": {"items": {"type": "array", "items": ref},
                                                        "page": {"type": "integer"}, "per_page": {"type": "integer"},
                                                        "total": {"type": "integer"}}}
            ok["content"] = {"application/json": {"schema": ref}}
        item["responses"][str(op.status)] = ok
        for code in sorted({400, 401, 403, 404, 409, *op.errors}):
            if code == 401 and op.public and 401 not in op.errors:
                continue
            error = {"schema": {"$ref": "#/components/schemas/Error"}}
            item["responses"][str(code)] = {"description": "Error", "content": {"application/json": error}}
        if not op.public:
            item["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "惠农资金监管平台 API", "version": "1"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@route("/openapi.json", "GET", summary="This OpenAPI document", public=True, tag="meta")
def openapi():
    return jsonify(build_openapi())


@route("/docs", "GET", summary="Browsable API documentation", public=True, tag="meta")
def docs():
    return render_template("api/docs.html", spec=build_openapi())

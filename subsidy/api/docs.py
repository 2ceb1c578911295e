"""The OpenAPI 3 document, built from `spec.OPERATIONS`, and a browsable page for it."""
from __future__ import annotations

import re

from flask import jsonify, render_template

from subsidy.api.spec import OPERATIONS, route

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


def _schema_ref(model, components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi() -> dict:
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for op in OPERATIONS:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/api/v1" + op.rule)
        item: dict = {"summary": op.summary, "tags": [op.tag] if op.tag else [], "responses": {}}
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in re.findall(r"{(\w+)}", path)
        ]
        params += [
            {"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
            for n, d in op.query.items()
        ]
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
            ref = _schema_ref(op.response, components)
            if op.list_response:
                ref = {"type": "object", "properties": {"items": {"type": "array", "items": ref},
                                                        "page": {"type": "integer"}, "per_page": {"type": "integer"},
                                                        "total": {"type": "integer"}}}
            ok["content"] = {"application/json": {"schema": ref}}
        item["responses"][str(op.status)] = ok
        for code in (400, 401, 403, 404, 409):
            if code == 401 and op.public:
                continue
            item["responses"][str(code)] = {"description": "Error",
                                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
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

"""The OpenAPI document states the limits the code enforces (`subsidy.api.docs`): path ids as
bounded integers, query parameters with their types, bounds and enums, strings with a length,
money as strings with a pattern; and the code answers 400 just outside each documented bound."""
from __future__ import annotations

import pytest

from subsidy.common.params import MAX_ID, MAX_PAGE, YEAR_MAX, YEAR_MIN
from tests.edge_support import seed
from tests.factories import make_user


@pytest.fixture
def document(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    return r.json


def _operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield path, method, op


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].split("/")[-1]]
    return schema


def _unbounded(name: str, schema: dict, components: dict, seen: set) -> list[str]:
    """Fields of a request schema a generator could fill with anything: strings without an
    enum, pattern, length or format, integers without a maximum."""
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        if ref in seen:
            return []
        return _unbounded(name, components[ref], components, seen | {ref})
    out = []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            out += _unbounded(name, sub, components, seen)
    kind = schema.get("type")
    if kind == "object":
        for prop, sub in schema.get("properties", {}).items():
            out += _unbounded(f"{name}.{prop}", sub, components, seen)
    elif kind == "array":
        out += _unbounded(f"{name}[]", schema.get("items", {}), components, seen)
        if "maxItems" not in schema:
            out.append(name)
    elif (kind == "string" and not any(k in schema for k in ("enum", "pattern", "maxLength", "format"))
          or kind == "integer" and ("maximum" not in schema or "minimum" not in schema)):
        out.append(name)
    return out


def test_path_ids_are_integers_within_the_id_column(document):
    ids = [(path, p) for path, _m, op in _operations(document) for p in op.get("parameters", [])
           if p["in"] == "path" and p["name"].endswith("_id")]
    assert len(ids) > 25
    for path, p in ids:
        assert p["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}, (path, p)
    codes = [p for _path, _m, op in _operations(document) for p in op.get("parameters", []) if p["name"] == "code"]
    assert codes and all(p["schema"]["pattern"] for p in codes)


def test_query_parameters_have_their_real_types_and_bounds(document):
    params = {(path, method, p["name"]): p["schema"] for path, method, op in _operations(document)
              for p in op.get("parameters", []) if p["in"] == "query"}
    pages = [s for (_p, _m, name), s in params.items() if name == "page"]
    per_pages = [s for (_p, _m, name), s in params.items() if name == "per_page"]
    years = [s for (_p, _m, name), s in params.items() if name == "year"]
    assert pages and all(s == {"type": "integer", "minimum": 1, "maximum": MAX_PAGE} for s in pages)
    assert per_pages and all(s == {"type": "integer", "minimum": 1, "maximum": 200} for s in per_pages)
    assert len(years) == 4 and all(s == {"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX} for s in years)
    assert params[("/api/v1/filings", "get", "state")]["enum"] == ["draft", "publicizing", "village_filed",
                                                                 "township_approved", "county_approved", "paid"]
    assert "delivered" in params[("/api/v1/sms/messages", "get", "status")]["enum"]
    assert params[("/api/v1/cases", "get", "state")]["enum"][0] == "open"
    assert params[("/api/v1/payments/batches/{batch_id}/file", "get", "format")]["enum"] == ["xlsx", "csv"]
    unbounded = [key for key, s in params.items()
                 if not any(k in s for k in ("enum", "pattern", "maxLength", "maximum"))]
    assert not unbounded, unbounded


def test_every_request_field_is_bounded_and_money_travels_as_a_pattern_string(document):
    components = document["components"]["schemas"]
    loose = []
    for path, method, op in _operations(document):
        for content in op.get("requestBody", {}).get("content", {}).values():
            loose += _unbounded(f"{method} {path}", content["schema"], components, set())
    assert not loose, loose
    money = {("ProjectIn", "rate"), ("ProjectIn", "budget"), ("EntryIn", "quantity"), ("EntryIn", "amount"),
             ("EntryPatch", "amount"), ("HouseholdIn", "land_area_mu")}
    for model, field in money:
        schema = components[model]["properties"][field]
        schema = next((s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"), schema)
        assert schema["type"] == "string" and schema["pattern"].startswith("^[0-9]{1,"), (model, field, schema)
    assert components["HouseholdIn"]["properties"]["head_name"]["maxLength"] == 40
    assert components["CaseIn"]["properties"]["subject"]["maxLength"] == 100
    assert components["EntryIn"]["properties"]["household_id"]["maximum"] == MAX_ID


def test_the_code_answers_400_just_outside_every_documented_query_bound(app, client, document):
    """For every GET of the API: each integer query parameter one past either bound, and each
    enum parameter with a value outside it, is a 400 naming the parameter."""
    world = seed()
    tokens = {role: client.post("/api/v1/auth/token", json={"username": world["users"][role].username,
                                                            "password": "secret123"}).json["token"]
              for role in ("county_admin", "county_reviewer")}
    city = make_user("city_supervisor", "6404")  # the city's assessment is read by the city roles only
    tokens["city_supervisor"] = client.post("/api/v1/auth/token", json={"username": city.username,
                                                                        "password": "secret123"}).json["token"]
    ids = {**world["ids"], "code": "640425"}
    wrong, checked = [], 0
    for path, method, op in _operations(document):
        if method != "get":
            continue
        url = path.format(**ids)
        role = "county_reviewer" if path.startswith("/api/v1/payments") else "county_admin"
        role = "city_supervisor" if path.startswith("/api/v1/stats/assessment") else role
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        for p in op.get("parameters", []):
            if p["in"] != "query":
                continue
            schema = p["schema"]
            bad = []
            if schema.get("type") == "integer":
                bad = [schema["minimum"] - 1, schema["maximum"] + 1]
            elif "enum" in schema:
                bad = ["no-such-value"]
            for value in bad:
                checked += 1
                r = client.get(url, query_string={p["name"]: value}, headers=headers)
                if r.status_code != 400 or p["name"] not in r.json["error"]["fields"]:
                    wrong.append((path, p["name"], value, r.status_code))
    assert checked > 40
    assert not wrong, wrong

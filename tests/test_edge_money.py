"""Money, areas, quantities and rates: one rule (`subsidy.common.money.parse_amount`) for the API's
models, the forms and the services. 1e308, 1e400, NaN, Infinity, huge or over-precise decimals
are refused with a field error, in JSON (as strings or as numbers) and in forms, and never reach
a NUMERIC(14,2) / NUMERIC(12,2) column."""
from __future__ import annotations

from decimal import Decimal

import pytest

from subsidy.common.money import AREA_MAX, MONEY_MAX, parse_amount
from tests.edge_support import seed

HOSTILE = ["1e308", "-1e308", "1e400", "NaN", "Infinity", "-Infinity", "12345678901234567890.12", "1.234", "0.001",
           "1" * 500, "abc", "1e-400"]
# The same values as bare JSON numbers or constants (what a script sending floats would write).
HOSTILE_JSON = ["1e308", "1e400", "-1e400", "NaN", "Infinity", "12345678901234567890.12", "1.234", "1E+2000"]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_rule_refuses_what_no_money_column_can_hold(value):
    with pytest.raises(ValueError) as info:
        parse_amount(value, label="金额")
    assert str(info.value).startswith("金额")


def test_the_rule_takes_what_fits_and_names_the_limit():
    assert parse_amount("1234.5") == Decimal("1234.50") and parse_amount(0) == Decimal("0.00")
    assert parse_amount(MONEY_MAX) == MONEY_MAX and parse_amount("1,000.25") == Decimal("1000.25")
    assert parse_amount(1.5) == Decimal("1.50") and parse_amount(Decimal("1E+2")) == Decimal("100.00")
    with pytest.raises(ValueError, match="超出允许范围"):
        parse_amount(MONEY_MAX + Decimal("0.01"))
    with pytest.raises(ValueError, match="面积超出允许范围"):
        parse_amount(AREA_MAX + 1, label="面积", maximum=AREA_MAX)
    with pytest.raises(ValueError, match="不能为负数"):
        parse_amount("-0.01")
    with pytest.raises(ValueError, match="最多两位小数"):
        parse_amount("0.125")
    with pytest.raises(ValueError, match="应为数字"):
        parse_amount(True)


def _raw(payload: str):
    return {"data": payload, "content_type": "application/json"}


@pytest.mark.parametrize("value", HOSTILE_JSON)
@pytest.mark.parametrize("field", ["rate", "budget"])
def test_project_money_in_json_as_numbers_or_strings_is_a_field_error(api_as, value, field):
    api = api_as("county_admin")
    body = {"name": "耕地地力保护补贴", "year": 2024, "category": "cash", "unit": "mu", "rate": "105.00",
            "budget": "1000000.00", "publicity_days": 7}
    for sent in (value, f'"{value}"'):
        payload = ", ".join(f'"{k}": {sent if k == field else _json(v)}' for k, v in body.items())
        r = api.post("/api/v1/projects", **_raw("{" + payload + "}"))
        assert r.status_code == 400, (sent, r.json)
        assert set(r.json["error"]["fields"]) == {field}, r.json
    assert api.get("/api/v1/projects").json["total"] == 0


def _json(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False)


@pytest.mark.parametrize(("field", "value"), [("quantity", "1e308"), ("quantity", "1e400"), ("quantity", "NaN"),
                                          ("quantity", '"0.001"'), ("quantity", '"100000.01"'), ("amount", "1e400"),
                                          ("amount", '"1e308"'), ("amount", "Infinity"), ("amount", '"-1"'),
                                          ("amount", '"1000000000000.00"')])
def test_entry_quantities_and_amounts_in_json_are_field_errors(api_as, field, value):
    world = seed(with_county=False)
    clerk = api_as("village_clerk")
    fid, hid, eid = world["ids"]["filing_id"], world["households"][2].id, world["ids"]["entry_id"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", **_raw(f'{{"household_id": {hid}, "{field}": {value}}}'))
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {field}, r.json
    r = clerk.patch(f"/api/v1/filings/{fid}/entries/{eid}", **_raw(f'{{"{field}": {value}}}'))
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {field}, r.json


@pytest.mark.parametrize("value", ["1e400", "NaN", '"1e308"', '"0.001"'])
def test_household_land_in_json_is_a_field_error(api_as, value):
    from tests.factories import valid_id_number

    clerk = api_as("village_clerk")
    r = clerk.post("/api/v1/households", **_raw(f'{{"head_name": "马福", "id_number": "{valid_id_number(41)}", '
                                                 f'"members": 3, "land_area_mu": {value}}}'))
    assert r.status_code == 400 and set(r.json["error"]["fields"]) == {"land_area_mu"}, r.json


@pytest.mark.parametrize("field", ["rate", "budget"])
@pytest.mark.parametrize("value", ["1e308", "1e400", "NaN", "Infinity", "12345678901234567890.12", "1.234"])
def test_project_form_money_is_refused_beside_the_field(login_as, field, value):
    web = login_as("county_admin")
    form = {"name": "良种补贴", "year": "2024", "category": "cash", "unit": "mu", "rate": "10", "budget": "1000",
            "publicity_days": "7", field: value}
    r = web.post("/projects/new", data=form)
    assert r.status_code == 422, r.status_code
    assert web.get("/projects/").get_data(as_text=True).count("良种补贴") == 0


def test_api_and_form_say_the_same_about_the_same_number(login_as, api_as):
    web, api = login_as("county_admin"), api_as("county_admin")
    r = api.post("/api/v1/projects", json={"name": "地膜补贴", "year": 2024, "category": "cash", "unit": "mu",
                                           "rate": "20000000", "budget": "1", "publicity_days": 7})
    message = r.json["error"]["fields"]["rate"]
    assert message == "补贴标准超出允许范围（最大 9999999.99）"
    page = web.post("/projects/new", data={"name": "地膜补贴", "year": "2024", "category": "cash", "unit": "mu",
                                           "rate": "20000000", "budget": "1", "publicity_days": "7"})
    assert page.status_code == 422 and message in page.get_data(as_text=True)


@pytest.mark.parametrize(("field", "value"), [("amount", "1e308"), ("amount", "1e400"), ("quantity", "1e400"),
                                          ("quantity", "NaN"), ("amount", "99999999999999999999.99")])
def test_entry_form_money_is_refused_with_a_message(app, field, value):
    world = seed()
    web = app.test_client()
    web.post("/login", data={"username": world["users"]["village_clerk"].username, "password": "secret123"})
    fid, eid = world["ids"]["filing_id"], world["ids"]["entry_id"]
    r = web.post(f"/filings/{fid}/entries/{eid}/edit", data={field: value})
    assert r.status_code == 422, r.status_code
    assert ("金额" if field == "amount" else "数量") in r.get_data(as_text=True)
    r = web.post(f"/filings/{fid}/entries", data={"household_id": str(world["households"][2].id), field: value})
    assert r.status_code == 422

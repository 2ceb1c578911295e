"""Bad input stops at the edge with a clear answer, never a 500: ids beyond the id columns
(INTEGER: 2**31-1 on PostgreSQL, 2**63-1 on SQLite) and page numbers beyond 64 bits (paths, query
strings, forms, JSON), years out of range, deeply nested JSON, NUL bytes, empty or non-numeric
form ids (`subsidy.common.params`, `subsidy.common.jsonbody`, `subsidy.common.text`)."""
from __future__ import annotations

import re

import pytest

from subsidy.common.params import MAX_ID, IdConverter, parse_int
from tests.edge_support import seed

BAD_IDS = [str(2**31), str(2**63), str(2**64), "1" + "0" * 30, "9" * 5000, "0"]


def _path(rule, bad_arg: str, bad: str, ids: dict) -> str:
    path = rule.rule
    for arg in rule.arguments:
        value = {"code": "640425100201", "action": "publicize"}.get(arg, str(ids.get(arg, 1)))
        path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", bad if arg == bad_arg else value, path)
    return path


def test_the_id_converter_takes_exactly_the_ids_an_integer_column_holds():
    assert MAX_ID == 2**31 - 1  # INTEGER on PostgreSQL; 2**63 - 1 on SQLite
    pattern = re.compile(r"\A" + IdConverter.regex + r"\Z")
    assert all(pattern.match(str(v)) for v in (1, 9, 10, 10**9 - 1, 10**9, MAX_ID - 1, MAX_ID))
    assert not any(pattern.match(v) for v in ("0", "007", str(MAX_ID + 1), str(10**10), "9" * 19, "9" * 5000))
    assert parse_int(" 42 ", 1, MAX_ID) == 42 and parse_int(str(MAX_ID + 1), 1, MAX_ID) is None
    assert parse_int("４２", 1, MAX_ID) is None and parse_int("", 1, 9) is None and parse_int(True, 0, 9) is None


def test_every_id_in_every_url_rule_beyond_64_bits_is_a_404(app, client):
    """Every `<int:…>` of every rule (pages, the API, the farmers' pages and QR codes), every
    method: an id beyond the id column, or 0, is a page that does not exist (404), never a 500 or 405."""
    world = seed()
    ids = world["ids"]
    staff = app.test_client()
    assert staff.post("/login", data={"username": world["users"]["county_admin"].username,
                                      "password": "secret123"}).status_code == 302
    token = client.post("/api/v1/auth/token", json={"username": world["users"]["county_admin"].username,
                                                    "password": "secret123"}).json["token"]
    anonymous = app.test_client()
    wrong, checked = [], 0
    for rule in app.url_map.iter_rules():
        int_args = [a for a, conv in rule._converters.items() if isinstance(conv, IdConverter)]
        if not int_args:
            continue
        is_api = rule.rule.startswith("/api/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for arg in int_args:
                for bad in BAD_IDS:
                    path = _path(rule, arg, bad, ids)
                    if is_api:
                        r = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, json={})
                    else:
                        r = staff.open(path, method=method, data={})
                    checked += 1
                    if r.status_code != 404:
                        wrong.append((method, rule.rule, arg, bad[:25], r.status_code))
                    if rule.endpoint.startswith("public.") and anonymous.open(path, method=method).status_code != 404:
                        wrong.append(("anonymous", method, rule.rule, arg, bad[:25]))
    assert checked > 300
    assert not wrong, wrong


@pytest.mark.parametrize("path", ["/m/policies/{}", "/qr/policies/{}.svg", "/m/policies/1/files/{}"])
@pytest.mark.parametrize("big", [2**31, 2**64])
def test_the_farmers_pages_answer_a_huge_id_with_their_own_404(client, county, path, big):
    r = client.get(path.format(big))
    assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True)


# ---------------------------------------------------------------- query-string integers


@pytest.mark.parametrize(("query", "field"), [
    ("/api/v1/households?page=9223372036854775808", "page"),
    ("/api/v1/households?page=0", "page"),
    ("/api/v1/households?page=abc", "page"),
    ("/api/v1/households?per_page=0", "per_page"),
    ("/api/v1/households?per_page=201", "per_page"),
    ("/api/v1/households?per_page=99999999999999999999", "per_page"),
    ("/api/v1/filings?project_id=99999999999999999999", "project_id"),
    ("/api/v1/filings?project_id=abc", "project_id"),
    ("/api/v1/payments/batches?project_id=99999999999999999999", "project_id"),
    ("/api/v1/payments/batches?page=99999999999999999999", "page"),
    ("/api/v1/payments/batches/{batch_id}/payments?per_page=1e400", "per_page"),
    ("/api/v1/sms/messages?household_id=99999999999999999999", "household_id"),
    ("/api/v1/sms/messages?household_id=2147483648", "household_id"),
    ("/api/v1/projects?year=99999999999999999999", "year"),
    ("/api/v1/cases?page=1e400", "page"),
])
def test_api_query_integers_out_of_range_are_a_400_naming_the_parameter(api_as, query, field):
    world = seed(with_county=False)
    api = api_as("county_reviewer")
    r = api.get(query.format(**world["ids"]))
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"]


PAGES = ["/households/", "/filings/", "/filings/queue", "/cases/", "/projects/", "/policies/", "/users", "/audit/",
         "/sms/messages", "/sms/problems", "/sms/opt-outs", "/sms/broadcasts", "/payments/", "/watchlist/",
         "/m/policies", "/filings/{filing_id}"]


@pytest.mark.parametrize("value", ["9223372036854775808", "1" + "0" * 40, "-5", "abc", "1e400"])
def test_pages_fall_back_to_the_first_page_for_a_bad_page_number(app, value):
    world = seed()
    for role in ("county_admin", "village_clerk"):
        web = app.test_client()
        web.post("/login", data={"username": world["users"][role].username, "password": "secret123"})
        for page in PAGES:
            r = web.get(page.format(**world["ids"]) + f"?page={value}")
            assert r.status_code in (200, 403), (role, page, r.status_code)


@pytest.mark.parametrize("page", ["/filings/?project_id={}", "/sms/messages?household_id={}",
                                  "/payments/failed?project_id={}", "/projects/?year={}"])
def test_page_filters_with_huge_ids_show_the_unfiltered_page(login_as, page):
    web = login_as("county_admin") if "projects" in page or "sms" in page else login_as("county_reviewer")
    assert web.get(page.format("99999999999999999999")).status_code == 200


# ---------------------------------------------------------------- ids in JSON bodies


@pytest.mark.parametrize(("role", "path", "body", "field"), [
    ("village_clerk", "/api/v1/filings", {"project_id": 2**63}, "project_id"),
    ("village_clerk", "/api/v1/filings", {"project_id": 2**31}, "project_id"),
    ("village_clerk", "/api/v1/filings", {"project_id": 0}, "project_id"),
    ("village_clerk", "/api/v1/filings/{filing_id}/entries", {"household_id": 10**30}, "household_id"),
    ("county_reviewer", "/api/v1/payments/batches", {"project_id": "{paid_project_id}", "filing_ids": [2**64]},
     "filing_ids.0"),
    ("county_reviewer", "/api/v1/payments/batches/reissue", {"project_id": 1, "payment_ids": [2**63]},
     "payment_ids.0"),
    ("village_clerk", "/api/v1/cases", {"kind": "inquiry", "subject": "a", "body": "b", "contact_phone": "13909541234",
                                        "household_id": 2**63}, "household_id"),
    ("village_clerk", "/api/v1/filings/{filing_id}/actions/publicize", {"version": 2**64}, "version"),
])
def test_json_ids_beyond_64_bits_are_a_400_naming_the_field(api_as, role, path, body, field):
    world = seed(with_county=False)
    ids = world["ids"]
    body = {k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()}
    r = api_as(role).post(path.format(**ids), json=body)
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"], r.json


# ---------------------------------------------------------------- years


@pytest.mark.parametrize("year", ["99999", "1", "9223372036854775808", "1999", "2101"])
def test_case_statistics_with_a_year_out_of_range_is_a_clear_400(login_as, api_as, year):
    web = login_as("county_admin")
    for page in ("/cases/stats", "/cases/stats.xlsx"):
        r = web.get(f"{page}?year={year}")
        assert r.status_code == 400 and "年份不正确" in r.get_data(as_text=True)
    api = api_as("county_admin")
    for path in ("/api/v1/cases/stats", "/api/v1/stats/summary", "/api/v1/projects"):
        r = api.get(f"{path}?year={year}")
        assert r.status_code == 400 and "year" in r.json["error"]["fields"], (path, r.json)
    assert web.get(f"/dashboard?year={year}").status_code == 400
    assert web.get(f"/cases/calendar?year={year}").status_code == 400
    assert web.get("/cases/stats?year=2017").status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01"])
def test_a_calendar_day_outside_the_years_the_platform_knows_is_refused_beside_the_field(login_as, day):
    from subsidy.cases.models import WorkCalendarDay
    from subsidy.extensions import db

    web = login_as("county_admin")
    r = web.post("/cases/calendar/day", data={"d-day": day, "d-is_workday": "1", "d-note": "调休"})
    assert r.status_code == 422 and "年份应在 2000–2100 之间" in r.get_data(as_text=True)
    assert db.session.query(WorkCalendarDay).count() == 0
    assert web.post("/cases/calendar/day", data={"d-day": "2030-02-03", "d-is_workday": "1"}).status_code == 302


# ---------------------------------------------------------------- deeply nested JSON


@pytest.mark.parametrize("depth", [40, 5000, 200_000])
def test_deeply_nested_json_is_a_400_error_even_before_sign_in(client, county, depth):
    body = "[" * depth + "]" * depth
    r = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert r.status_code == 400, r.data[:200]
    assert r.json["error"]["code"] == "invalid" and "嵌套" in r.json["error"]["message"]
    nested = '{"username": ' + "[" * depth + "]" * depth + ', "password": "x"}'
    r = client.post("/api/v1/auth/token", data=nested, content_type="application/json")
    assert r.status_code == 400 and "error" in r.json


def test_deep_json_is_refused_on_every_kind_of_body(api_as):
    api = api_as("county_admin")
    deep = "[" * 100 + "]" * 100
    for method, path in (("POST", "/api/v1/projects"), ("POST", "/api/v1/policies/1/publish"),
                         ("PATCH", "/api/v1/households/1")):
        r = api.open(path, method=method, data=deep, content_type="application/json")
        assert r.status_code in (400, 404), (path, r.status_code)
        if r.status_code == 400:
            assert "嵌套" in r.json["error"]["message"]
    r = api.post("/api/v1/projects", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.json["error"]["fields"] == {"body": "不是有效的 JSON"}


def test_the_body_size_limit_still_holds(app, client, county):
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024
    big = b'{"username": "' + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'", "password": "x"}'
    r = client.post("/api/v1/auth/token", data=big, content_type="application/json")
    assert r.status_code == 413 and r.json["error"]["code"] == "too_large"


# ---------------------------------------------------------------- empty or non-numeric form ids


@pytest.mark.parametrize(("value", "message"), [("abc", "农户编号应为正整数"),
                                            ("99999999999999999999", "农户编号不存在"),
                                            ("2147483648", "农户编号不存在"), ("-3", "农户编号应为正整数")])
def test_a_case_form_with_a_bad_household_id_shows_the_error_beside_the_field(login_as, value, message):
    web = login_as("village_clerk")
    r = web.post("/cases/new", data={"kind": "inquiry", "channel": "phone", "region_code": "640425100201",
                                     "household_id": value, "subject": "补贴", "body": "什么时候发",
                                     "contact_phone": "13909541234"})
    assert r.status_code == 422 and message in r.get_data(as_text=True)


def test_an_objection_form_with_an_empty_or_huge_entry_id_is_refused_clearly(login_as):
    web = login_as("village_clerk")
    data = {"kind": "objection", "channel": "phone", "region_code": "640425100201", "subject": "异议",
            "body": "不应享受", "contact_phone": "13909541234"}
    r = web.post("/cases/new", data={**data, "entry_id": ""})
    assert r.status_code == 422 and "请指明" in r.get_data(as_text=True)
    r = web.post("/cases/new", data={**data, "entry_id": "99999999999999999999"})
    assert r.status_code == 422 and "公示名单条目编号不存在" in r.get_data(as_text=True)
    r = web.post("/cases/new", data={**data, "entry_id": "第3户"})
    assert r.status_code == 422 and "公示名单条目编号应为正整数" in r.get_data(as_text=True)


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999", "1.5"])
def test_filing_forms_with_bad_household_ids_are_refused_clearly(app, value):
    world = seed()
    web = app.test_client()
    web.post("/login", data={"username": world["users"]["village_clerk"].username, "password": "secret123"})
    r = web.post(f"/filings/{world['ids']['filing_id']}/entries", data={"household_id": value})
    assert r.status_code == 422 and "农户" in r.get_data(as_text=True)


@pytest.mark.parametrize("form", [{"filing_ids": "abc"}, {"filing_ids": "99999999999999999999"}, {"filing_ids": ""}])
def test_a_batch_form_with_bad_filing_ids_is_refused_clearly(app, form):
    world = seed()
    web = app.test_client()
    web.post("/login", data={"username": world["users"]["county_reviewer"].username, "password": "secret123"})
    r = web.post(f"/payments/projects/{world['ids']['paid_project_id']}/batch", data=form)
    assert r.status_code == 422 and "备案编号" in r.get_data(as_text=True)


@pytest.mark.parametrize("form", [{"project_id": "", "size": "5"}, {"project_id": "abc", "size": "5"},
                                  {"project_id": "{paid_project_id}", "size": "99999999999999999999"},
                                  {"project_id": "{paid_project_id}", "size": "5", "seed": "99999999999999999999"},
                                  {"project_id": "{paid_project_id}", "size": "1e400"}])
def test_a_receipt_sample_form_with_bad_numbers_is_refused_with_a_message(app, form):
    world = seed()
    web = app.test_client()
    web.post("/login", data={"username": world["users"]["county_reviewer"].username, "password": "secret123"})
    r = web.post("/payments/receipts", data={k: v.format(**world["ids"]) for k, v in form.items()},
                 follow_redirects=True)
    text = r.get_data(as_text=True)
    words = ("请选择项目", "抽查户数应为", "随机种子应为")
    assert r.status_code == 200 and any(word in text for word in words), text[:500]


@pytest.mark.parametrize("form", [{"project_id": ""}, {"project_id": "abc"}, {"project_id": "99999999999999999999"},
                                  {"project_id": "{paid_project_id}", "payment_ids": "abc"}])
def test_a_reissue_form_with_bad_ids_is_refused_with_a_message(app, form):
    world = seed()
    web = app.test_client()
    web.post("/login", data={"username": world["users"]["county_reviewer"].username, "password": "secret123"})
    r = web.post("/payments/reissue", data={k: v.format(**world["ids"]) for k, v in form.items()},
                 follow_redirects=True)
    assert r.status_code == 200
    assert any(word in r.get_data(as_text=True) for word in ("请选择项目", "发放记录编号不正确"))


# ---------------------------------------------------------------- NUL bytes


def test_a_nul_byte_anywhere_in_a_request_is_a_400_naming_the_field(app, client, county):
    """PostgreSQL cannot hold or compare a NUL in a text column: every search box, filter or
    sign-in name holding %00 was a 500 there. Refused at the edge, on every kind of input."""
    from tests.factories import make_user

    user = make_user("county_admin")
    token = client.post("/api/v1/auth/token", json={"username": user.username, "password": "secret123"}).json["token"]
    api = {"Authorization": f"Bearer {token}"}
    for path, field in (("/api/v1/households?q=%00", "q"), ("/api/v1/policies?q=a%00", "q"),
                        ("/api/v1/sms/messages?template=a%00b", "template"), ("/api/v1/regions/64042%00", "code")):
        r = client.get(path, headers=api)
        assert r.status_code == 400 and field in r.json["error"]["fields"], (path, r.json)
    r = client.post("/api/v1/auth/token", json={"username": "a\x00b", "password": "x"})
    assert r.status_code == 400 and r.json["error"]["fields"] == {"username": "不能含有空字符（\\x00）"}
    r = client.post("/api/v1/cases", headers=api, json={"kind": "inquiry", "subject": "x", "body": "y\x00",
                                                        "contact_phone": "13909541234"})
    assert r.status_code == 400 and "body" in r.json["error"]["fields"]
    anonymous = app.test_client()
    r = anonymous.post("/login", data={"username": "a\x00b", "password": "x"})
    assert r.status_code == 400 and "空字符" in r.get_data(as_text=True)
    for page in ("/m/policies?q=%00", "/m/villages/6404251002%00"):
        r = anonymous.get(page)
        assert r.status_code == 400 and "空字符" in r.get_data(as_text=True), page
    web = app.test_client()
    web.post("/login", data={"username": user.username, "password": "secret123"})
    for page in ("/households/?q=%00", "/audit/?action=%00", "/policies/?q=%00"):
        assert web.get(page).status_code == 400, page

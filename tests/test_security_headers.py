"""Every answer carries the browser's protections (security probe, finding 9): staff pages and
the API as the farmers' pages already did; and no image of a policy loads from another host,
however its address is spelled."""
from __future__ import annotations

import re

import pytest

from subsidy.policies.render import render_markdown


def test_staff_pages_and_the_api_send_the_headers(client, county, login_as, api_as):
    for resp in (login_as("village_clerk").get("/home"), client.get("/login"),
                 api_as("village_clerk").get("/api/v1/regions/640425"), client.get("/api/v1/openapi.json")):
        csp = resp.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp, resp.request.path
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"
        assert resp.headers.get("Referrer-Policy") == "same-origin"
    staff = login_as("county_admin").get("/home").headers["Content-Security-Policy"]
    assert "script-src 'self'" in staff and "unsafe-inline" not in staff


def test_staff_pages_hold_no_inline_script(app, county, login_as):
    """The policy runs no inline script, so none may be on a page (a confirm() would silently stop)."""
    pages = ["/home", "/households/", "/households/import", "/cases/", "/dashboard", "/sms/", "/audit/",
             "/users", "/projects/", "/account/password"]
    web = login_as("county_admin")
    for url in pages:
        html = web.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", html), url
        assert not re.search(r"\son(click|submit|change|load)=", html), url
        assert 'style="' not in html, url


@pytest.mark.parametrize("src", ["/\\evil.example/x.png", "/\\\\evil.example/x.png", "//evil.example/x.png",
                                 "/\t/evil.example/x.png", "http://evil.example/x.png", "\\\\evil.example\\x.png"])
def test_an_image_from_another_host_is_dropped_however_spelled(src):
    html = str(render_markdown(f'正文 <img src="{src}" alt="图">'))
    assert "evil.example" not in html, html


def test_an_image_of_the_platform_stays():
    assert 'src="/m/policies/1/files/2"' in str(render_markdown('<img src="/m/policies/1/files/2" alt="图">'))

"""Sessions end when they should (security probe, findings 3 and 10): sign-out ends the session
on the server, remember-me is short and SameSite, a password change revokes API tokens, one's
own tokens can be revoked; weak passwords are refused."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from subsidy.accounts import service
from subsidy.accounts.models import ApiToken
from subsidy.audit.models import AuditEvent
from subsidy.errors import ValidationError
from tests.conftest import PASSWORD
from tests.factories import make_user


def test_a_copied_session_cookie_opens_nothing_after_sign_out(app, county):
    user = make_user("village_clerk")
    browser = app.test_client()
    browser.post("/login", data={"username": user.username, "password": PASSWORD, "remember": "y"})
    assert browser.get("/home").status_code == 200
    session_cookie = browser.get_cookie("session").value
    remember_cookie = browser.get_cookie("remember_token").value
    assert browser.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", session_cookie)
    assert thief.get("/home").status_code == 302
    thief = app.test_client()
    thief.set_cookie("remember_token", remember_cookie)
    assert thief.get("/home").status_code == 302
    events = {e.action for e in AuditEvent.query.filter(AuditEvent.object_id == str(user.id))}
    assert "user.sign_out" in events


def test_remember_me_is_short_and_same_site(app, county):
    user = make_user("village_clerk")
    resp = app.test_client().post("/login", data={"username": user.username, "password": PASSWORD, "remember": "y"})
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires - datetime.now(UTC) <= timedelta(days=14, minutes=1)


def test_a_password_change_revokes_every_api_token(app, county, login_as, api_as, db):
    api = api_as("county_reviewer")
    assert api.get("/api/v1/regions/640425").status_code == 200
    web = app.test_client()
    web.post("/login", data={"username": api.user.username, "password": PASSWORD})
    resp = web.post("/account/password", data={"current_password": PASSWORD, "new_password": "Xingfu-lu-88"})
    assert resp.status_code == 302
    assert api.get("/api/v1/regions/640425").status_code == 401
    assert web.get("/home").status_code == 200  # the browser that changed it stays signed in


def test_revoking_ones_own_tokens(app, county, api_as, db):
    first = api_as("county_reviewer")
    token = first.post("/api/v1/auth/token", json={"username": first.user.username, "password": PASSWORD}).json
    second = app.test_client()
    second.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token["token"]
    assert first.delete("/api/v1/auth/token").status_code == 204
    assert first.get("/api/v1/regions/640425").status_code == 401
    assert second.get("/api/v1/regions/640425").status_code == 200  # only the token in use
    assert second.delete("/api/v1/auth/tokens").status_code == 204
    assert second.get("/api/v1/regions/640425").status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


@pytest.mark.parametrize("password", ["password1", "abcdefg1", "zhangsan2024", "demo2024", "13909541234a",
                                      "qwer1234"])
def test_weak_passwords_are_refused(county, password):
    admin = make_user("county_admin")
    with pytest.raises(ValidationError) as exc:
        service.create_user(admin, username="zhangsan", password=password, name="张三", role="village_clerk",
                            region_code="640425100201", phone="13909541234")
    assert "password" in exc.value.fields


def test_a_longer_uncommon_password_is_accepted(county, db):
    admin = make_user("county_admin")
    user = service.create_user(admin, username="zhangsan", password="Baiyang-zhen-7", name="张三",
                               role="village_clerk", region_code="640425100201")
    assert user.id

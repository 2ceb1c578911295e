"""Staff sign-in, tokens, user management, and the role/region rules of DESIGN.md §1."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy import create_app
from subsidy.accounts.models import User
from subsidy.audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.factories import make_user


def test_sign_in_and_out(client, county):
    user = make_user("village_clerk")
    resp = client.post("/login", data={"username": user.username, "password": "wrong-pass1"})
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302
    page = client.get("/home").get_data(as_text=True)
    assert "白阳镇201村" in page  # the user's region is always visible
    client.post("/logout")
    assert client.get("/home").status_code == 302


def test_open_redirect_after_login_is_refused(client, county):
    user = make_user("village_clerk")
    resp = client.post("/login?next=//evil.example/", data={"username": user.username, "password": PASSWORD})
    assert resp.headers["Location"] == "/home"


def test_deactivated_user_cannot_sign_in_and_is_signed_out(login_as, app, db):
    admin = login_as("county_admin")
    clerk_client = login_as("village_clerk")
    assert clerk_client.get("/home").status_code == 200
    resp = admin.post(f"/users/{clerk_client.user.id}/active", data={"active": "0"})
    assert resp.status_code == 302
    assert clerk_client.get("/home").status_code == 302  # session ended
    resp = app.test_client().post("/login", data={"username": clerk_client.user.username, "password": PASSWORD})
    assert resp.status_code == 401


def test_password_reset_ends_sessions_and_tokens(login_as, api_as, db):
    admin = login_as("county_admin")
    clerk_api = api_as("village_clerk")
    assert clerk_api.get("/api/v1/regions/640425100201").status_code == 200
    resp = admin.post(f"/users/{clerk_api.user.id}/password", data={"password": "newpass99"})
    assert resp.status_code == 302
    assert clerk_api.get("/api/v1/regions/640425100201").status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "user.password_reset")) == 1


def test_token_wrong_credentials_401(client, county):
    make_user("village_clerk")
    resp = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "x"})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"
    resp = client.post("/api/v1/auth/token", json={"username": "nobody"})
    assert resp.status_code == 400 and resp.json["error"]["fields"] == {"password": "必填"}


def test_tokens_are_stored_hashed(api_as, db):
    c = api_as("county_admin")
    token = c.environ_base["HTTP_AUTHORIZATION"].split()[1]
    stored = db.session.execute(sa.text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert stored and token not in stored and all(len(h) == 64 for h in stored)


def test_county_admin_creates_users_with_matching_tier(api_as):
    admin = api_as("county_admin")
    ok = admin.post("/api/v1/users", json={"username": "clerk201", "password": "abc12345", "name": "李会计",
                                           "role": "village_clerk", "region_code": "640425100201"})
    assert ok.status_code == 201
    assert ok.json["role"] == "village_clerk" and ok.json["region_code"] == "640425100201" and ok.json["id"]
    bad_tier = admin.post("/api/v1/users", json={"username": "clerk2", "password": "abc12345", "name": "x",
                                                 "role": "village_clerk", "region_code": "640425100"})
    assert bad_tier.status_code == 400 and "role" in bad_tier.json["error"]["fields"]
    dup = admin.post("/api/v1/users", json={"username": "clerk201", "password": "abc12345", "name": "x",
                                            "role": "village_clerk", "region_code": "640425100202"})
    assert dup.status_code == 409
    weak = admin.post("/api/v1/users", json={"username": "clerk3", "password": "12345678", "name": "x",
                                             "role": "supervisor", "region_code": "640425100"})
    assert weak.status_code == 400 and "password" in weak.json["error"]["fields"]


def test_admin_cannot_create_users_outside_the_county(api_as, db):
    from tests.factories import RegionFactory
    from subsidy.regions.models import Level

    RegionFactory(code="640402", name="原州区", level=Level.county)
    db.session.commit()
    admin = api_as("county_admin")
    resp = admin.post("/api/v1/users", json={"username": "other", "password": "abc12345", "name": "x",
                                             "role": "county_admin", "region_code": "640402"})
    assert resp.status_code == 404


@pytest.mark.parametrize("role", ["village_clerk", "township_reviewer", "county_reviewer", "supervisor"])
def test_only_county_admin_manages_users(api_as, login_as, role):
    c = api_as(role)
    resp = c.post("/api/v1/users", json={"username": "x1234", "password": "abc12345", "name": "x",
                                         "role": "supervisor", "region_code": "640425"})
    assert resp.status_code == 403
    assert login_as(role).get("/users").status_code == 403


def test_cli_users_create(runner, county, db):
    result = runner.invoke(args=["users", "create", "zhang", "--role", "township_reviewer", "--region", "640425101",
                                 "--password", "abc12345", "--name", "张审核"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "zhang"))
    assert user.region_code == "640425101"
    result = runner.invoke(args=["users", "create", "wang", "--role", "village_clerk", "--region", "640425",
                                 "--password", "abc12345"])
    assert result.exit_code != 0
    assert "role" in result.output


def test_sign_in_is_rate_limited_per_account(tmp_path, database_url):
    """Five failures lock the account for a while, even when the right password follows."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "LOGIN_LIMIT_PER_ACCOUNT": "3 per 10 minutes", "LOGIN_LIMIT_PER_ADDRESS": "100 per minute"})
    with app.app_context():
        from tests.factories import make_county

        make_county()
        user = make_user("village_clerk")
        client = app.test_client()
        for _ in range(3):
            assert client.post("/login", data={"username": user.username, "password": "bad"}).status_code == 401
        assert client.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 429
        # another account from the same address is not affected
        other = make_user("village_clerk")
        assert client.post("/login", data={"username": other.username, "password": PASSWORD}).status_code == 302


def test_sign_in_is_rate_limited_per_address(database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t",
                      "RATELIMIT_ENABLED": True, "LOGIN_LIMIT_PER_ADDRESS": "4 per minute"})
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/api/v1/auth/token", json={"username": f"u{i}", "password": "x"}).status_code
                 for i in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]


def test_session_cookie_flags(client, county, app):
    user = make_user("village_clerk")
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

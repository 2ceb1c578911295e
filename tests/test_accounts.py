"""Staff sign-in, tokens, user management, and the role/region rules of DESIGN.md §1."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy import create_app
from subsidy.accounts.models import Role, User
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


@pytest.mark.parametrize("target", ["//evil.example/", "/%09/evil.example", "/%0a/evil.example", "/%5Cevil.example",
                                    "/\\evil.example", "https://evil.example/", "/%0d%0a//evil.example",
                                    "javascript:x"])
def test_open_redirect_after_login_is_refused(app, county, target):
    user = make_user("village_clerk")
    resp = app.test_client().post(f"/login?next={target}", data={"username": user.username, "password": PASSWORD})
    assert resp.headers["Location"] == "/home", target


def test_a_same_site_next_is_followed(app, county):
    user = make_user("village_clerk")
    resp = app.test_client().post("/login?next=/cases/%3Fkind%3Dcomplaint", data={"username": user.username,
                                                                                  "password": PASSWORD})
    assert resp.headers["Location"] == "/cases/?kind=complaint"


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
    resp = admin.post(f"/users/{clerk_api.user.id}/password", data={"password": "Xingfu-lu-88"})
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
    ok = admin.post("/api/v1/users", json={"username": "clerk201", "password": "Baiyang-zhen-7", "name": "李会计",
                                           "role": "village_clerk", "region_code": "640425100201"})
    assert ok.status_code == 201
    assert ok.json["role"] == "village_clerk" and ok.json["region_code"] == "640425100201" and ok.json["id"]
    bad_tier = admin.post("/api/v1/users", json={"username": "clerk2", "password": "Baiyang-zhen-7", "name": "x",
                                                 "role": "village_clerk", "region_code": "640425100"})
    assert bad_tier.status_code == 400 and "role" in bad_tier.json["error"]["fields"]
    dup = admin.post("/api/v1/users", json={"username": "clerk201", "password": "Baiyang-zhen-7", "name": "x",
                                            "role": "village_clerk", "region_code": "640425100202"})
    assert dup.status_code == 409
    weak = admin.post("/api/v1/users", json={"username": "clerk3", "password": "12345678", "name": "x",
                                             "role": "supervisor", "region_code": "640425100"})
    assert weak.status_code == 400 and "password" in weak.json["error"]["fields"]


def test_admin_cannot_create_users_outside_the_county(api_as, db):
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    RegionFactory(code="640402", name="原州区", level=Level.county)
    db.session.commit()
    admin = api_as("county_admin")
    resp = admin.post("/api/v1/users", json={"username": "other", "password": "Baiyang-zhen-7", "name": "x",
                                             "role": "county_admin", "region_code": "640402"})
    assert resp.status_code == 404


@pytest.mark.parametrize("role", ["village_clerk", "township_reviewer", "county_reviewer", "supervisor"])
def test_only_county_admin_manages_users(api_as, login_as, role):
    c = api_as(role)
    resp = c.post("/api/v1/users", json={"username": "x1234", "password": "Baiyang-zhen-7", "name": "x",
                                         "role": "supervisor", "region_code": "640425"})
    assert resp.status_code == 403
    assert login_as(role).get("/users").status_code == 403


def test_cli_users_create(runner, county, db):
    result = runner.invoke(args=["users", "create", "zhang", "--role", "township_reviewer", "--region", "640425101",
                                 "--password", "Baiyang-zhen-7", "--name", "张审核"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.username == "zhang"))
    assert user.region_code == "640425101"
    result = runner.invoke(args=["users", "create", "wang", "--role", "village_clerk", "--region", "640425",
                                 "--password", "Baiyang-zhen-7"])
    assert result.exit_code != 0
    assert "role" in result.output


def _limited_app(database_url, **config):
    from tests.conftest import RequestIsolatingClient

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": True, **config})
    app.test_client_class = RequestIsolatingClient
    return app


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_county_office_behind_one_address_all_signs_in(database_url):
    """Successes are never counted: the 31st clerk of a county office behind one NAT gets in
    (the limit used to count every sign-in, refusing the 21st for ten minutes)."""
    app = _limited_app(database_url, LOGIN_FAILURES_PER_ADDRESS="20 per 10 minutes")
    with app.app_context():
        from tests.factories import make_county

        make_county()
        office = "10.1.1.1"
        users = [make_user("village_clerk") for _ in range(31)]
        codes = [_from(app, office).post("/login", data={"username": u.username, "password": PASSWORD}).status_code
                 for u in users]
        assert codes == [302] * 31
        api = [_from(app, office).post("/api/v1/auth/token", json={"username": u.username, "password": PASSWORD})
               .status_code for u in users[:25]]
        assert api == [200] * 25


def test_an_attackers_failures_never_lock_the_owner_out_at_their_own_desk(database_url, db):
    app = _limited_app(database_url, LOGIN_FAILURES_PER_ACCOUNT_ADDRESS="3 per 10 minutes",
                       LOGIN_FAILURES_PER_ADDRESS="100 per minute")
    with app.app_context():
        from tests.factories import make_county

        make_county()
        reviewer = make_user("county_reviewer")
        name, region = reviewer.username, reviewer.region_code
        attacker = _from(app, "203.0.113.66")
        for _ in range(3):
            assert attacker.post("/login", data={"username": name, "password": "guess1"}).status_code == 401
        # the attacker's address is throttled for this account, even with the right password …
        assert attacker.post("/login", data={"username": name, "password": PASSWORD}).status_code == 429
        assert attacker.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD}).status_code == 429
        # … the owner, from their own desk, is not; nor is another account from the attacker's address
        owner = _from(app, "10.1.1.7")
        assert owner.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
        other = make_user("village_clerk")
        assert attacker.post("/login", data={"username": other.username, "password": PASSWORD}).status_code == 302
        # every failure is on the record, under the account's region, though each answer was 401
        from subsidy.extensions import db as _db

        _db.session.remove()
        failed = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.sign_in_failed")).all()
        assert len(failed) == 3 and {e.region_code for e in failed} == {region}
        assert all('"address":"203.0.113.66"' in e.detail for e in failed)
        # the lock-out of the name at that address is on the record too, once however often it repeats
        throttled = _db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "user.sign_in_throttled")).all()
        assert len(throttled) == 1 and throttled[0].region_code == region and "203.0.113.66" in throttled[0].detail


def test_failures_from_one_address_are_limited_across_accounts(database_url):
    app = _limited_app(database_url, LOGIN_FAILURES_PER_ADDRESS="4 per minute")
    with app.app_context():
        client = _from(app, "198.51.100.4")
        codes = [client.post("/api/v1/auth/token", json={"username": f"u{i}", "password": "x"}).status_code
                 for i in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]


def test_failures_from_many_addresses_raise_an_alert_instead_of_a_lock(database_url, db):
    """DESIGN.md §6: a looser cap per account across all addresses alerts the county admin and
    the supervisor (SMS and their home page) and locks nobody out."""
    from subsidy.notify.models import Message

    app = _limited_app(database_url, LOGIN_ALERT_FAILURES=6, LOGIN_ALERT_MINUTES=60)
    with app.app_context():
        from tests.factories import UserFactory, make_county

        make_county()
        reviewer = make_user("county_reviewer")
        admin = UserFactory(role=Role.county_admin, region_code="640425", phone="13909540001")
        UserFactory(role=Role.supervisor, region_code="640425", phone="13909540002")
        db.session.commit()
        name, admin_name = reviewer.username, admin.username
        for i in range(8):
            resp = _from(app, f"198.51.100.{i}").post("/login", data={"username": name, "password": "x1"})
            assert resp.status_code == 401
        assert _from(app, "10.1.1.7").post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
        db.session.remove()
        alerts = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.sign_in_alert")).all()
        assert len(alerts) == 1 and alerts[0].region_code == "640425"   # once per window
        sms = db.session.scalars(sa.select(Message).where(Message.template == "sign_in_alert")).all()
        assert sorted(m.to_phone for m in sms) == ["13909540001", "13909540002"]
        assert name in sms[0].body
        home = app.test_client()
        home.post("/login", data={"username": admin_name, "password": PASSWORD})
        page = home.get("/home").get_data(as_text=True)
        assert "安全提醒" in page and name in page and "198.51.100.5" in page


def test_session_cookie_flags(client, county, app):
    user = make_user("village_clerk")
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- editing users, and the password the admin set -------------------------------------------------

def test_the_admin_edits_name_phone_and_region_within_the_county(login_as, db):
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    RegionFactory(code="640402", name="原州区", level=Level.county)
    RegionFactory(code="640402100", name="南关街道", level=Level.township, parent_code="640402")
    RegionFactory(code="640402100201", name="南关社区", level=Level.village, parent_code="640402100")
    db.session.commit()
    admin = login_as("county_admin")
    clerk = make_user("village_clerk", "640425100201")
    clerk_id = clerk.id
    db.session.commit()
    page = admin.get(f"/users/{clerk_id}/edit").get_data(as_text=True)
    assert clerk.name in page and 'selected value="640425100201"' in page
    bad = admin.post(f"/users/{clerk_id}/edit", data={"name": "李会计", "phone": "12345", "region_code": "640425100"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "李会计" in html
    assert "村级经办员不能设在乡镇级" in html and "手机" in html
    assert admin.post(f"/users/{clerk_id}/edit", data={"name": "李会计", "phone": "13909541234",
                                                       "region_code": "640402100201"}).status_code in (403, 404)
    ok = admin.post(f"/users/{clerk_id}/edit", data={"name": "李会计", "phone": "139 0954 1234",
                                                      "region_code": "640425100202"})
    assert ok.status_code == 302
    db.session.rollback()
    user = db.session.get(User, clerk_id)
    assert (user.name, user.phone, user.region_code) == ("李会计", "13909541234", "640425100202")
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.update")).one()
    assert '"region_code":"640425100201"' in event.detail and '"phone":"13909541234"' in event.detail
    listing = admin.get("/users").get_data(as_text=True)
    assert "13909541234" in listing and f"/users/{clerk_id}/edit" in listing
    assert "李会计" in admin.get("/users?q=1390954").get_data(as_text=True)
    assert login_as("supervisor").get(f"/users/{clerk_id}/edit").status_code == 403


def test_a_new_user_and_a_reset_user_choose_their_own_password_first(app, login_as, db):
    admin = login_as("county_admin")
    resp = admin.post("/users/new", data={"username": "clerk201", "name": "李会计", "role": "village_clerk",
                                          "region_code": "640425100201", "phone": "", "password": "Baiyang-zhen-7"})
    assert resp.status_code == 302
    user = app.test_client()
    assert user.post("/login", data={"username": "clerk201", "password": "Baiyang-zhen-7"}).status_code == 302
    for path in ("/home", "/households/", "/cases/"):
        resp = user.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password"), path
    page = user.get("/account/password").get_data(as_text=True)
    assert 'id="must-change"' in page
    # no API token meanwhile, with a message saying why
    token = app.test_client().post("/api/v1/auth/token", json={"username": "clerk201", "password": "Baiyang-zhen-7"})
    assert token.status_code == 403 and token.json["error"]["code"] == "password_change_required"
    # the same password again is not a new one
    same = user.post("/account/password", data={"current_password": "Baiyang-zhen-7", "new_password": "Baiyang-zhen-7"})
    assert same.status_code == 422 and "不能与当前密码相同" in same.get_data(as_text=True)
    assert user.post("/account/password", data={"current_password": "Baiyang-zhen-7",
                                                  "new_password": "Gaoshan-liushui-9"}).status_code == 302
    assert user.get("/households/").status_code == 200
    assert app.test_client().post("/api/v1/auth/token", json={"username": "clerk201",
                                                               "password": "Gaoshan-liushui-9"}).status_code == 200
    # a reset sets it again
    db.session.rollback()
    user_id = db.session.scalar(sa.select(User.id).where(User.username == "clerk201"))
    assert admin.post(f"/users/{user_id}/password", data={"password": "Xingfu-lu-88"}).status_code == 302
    again = app.test_client()
    again.post("/login", data={"username": "clerk201", "password": "Xingfu-lu-88"})
    assert again.get("/households/").headers["Location"].endswith("/account/password")
    assert "待本人改密码" in admin.get("/users").get_data(as_text=True)

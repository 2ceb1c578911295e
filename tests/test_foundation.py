"""The skeleton: settings, migrations equal to the models, deny-by-default, audit chain."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from subsidy import create_app
from subsidy.audit.models import AuditEvent
from subsidy.audit.service import record, verify_chain
from subsidy.common.access import is_public_endpoint

# The explicit list of pages reachable without signing in. Adding to it is a reviewed decision.
EXPECTED_PUBLIC = {"static", "healthz", "accounts.login", "api.accounts_token", "api.api_openapi", "api.api_docs",
                   # Twilio webhooks: no session, the X-Twilio-Signature is their authentication.
                   "notify.status_callback", "notify.inbound", "api.notify_status_callback",
                   # Farmers' mobile pages and QR codes (issue 6; API.md "Public pages"): farmers have
                   # no account; who they are comes from ID number + SMS code (subsidy.public.farmer).
                   "public.home", "public.policy_list", "public.policy", "public.policy_file", "public.village",
                   "public.villages", "public.objection", "public.login", "public.login_code", "public.logout",
                   "public.me", "public.rate", "public.new_case", "public.qr_village", "public.qr_policy",
                   "public.receipt", "public.pickup_receipt",
                   # 问责公开: published accountability decisions (docs/design.md "Supervision with consequences").
                   "accountability_public.disclosures"}


def test_default_secret_key_is_refused_outside_debug_and_testing(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "dev-only-insecure-secret-key"})


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "3")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SMS_MAX_ATTEMPTS"] == 3


def test_migrated_schema_equals_models(app, db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(app, db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000


def test_every_endpoint_needs_login_except_the_public_list(app, client):
    public = {ep for ep in app.view_functions if _public(app, ep)}
    assert public == EXPECTED_PUBLIC
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXPECTED_PUBLIC:
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "640425").replace(f"<path:{arg}>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(url, method=method)
            if url.startswith("/api/"):
                assert resp.status_code == 401, (method, url, resp.status_code)
                assert resp.json["error"]["code"] == "unauthorized"
            else:
                assert resp.status_code == 302 and "/login" in resp.headers["Location"], (method, url, resp.status_code)


def _public(app, endpoint):
    with app.test_request_context():
        return is_public_endpoint(endpoint)


def test_audit_chain_detects_a_changed_row(app, db, runner, county):
    for i in range(3):
        record(None, "test.event", "thing", i, region_code="640425100201", n=i)
    db.session.commit()
    assert verify_chain().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output

    second = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id).offset(1).limit(1)).one()
    db.session.execute(sa.text("UPDATE audit_events SET detail = :d WHERE id = :id"),
                       {"d": '{"n":99}', "id": second.id})
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert str(second.id) in result.output


def test_audit_chain_detects_a_deleted_row(app, db, county):
    for i in range(3):
        record(None, "test.event", "thing", i)
    db.session.commit()
    ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == ids[1]))
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.broken_id == ids[2]


def test_openapi_document_lists_the_contract(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path, method in [("/api/v1/auth/token", "post"), ("/api/v1/users", "post"), ("/api/v1/regions/{code}", "get"),
                         ("/api/v1/households", "post"), ("/api/v1/households/import", "post"),
                         ("/api/v1/projects", "post")]:
        assert method in spec["paths"].get(path, {}), (path, method)
    assert "HouseholdIn" in spec["components"]["schemas"]
    assert client.get("/api/v1/docs").status_code == 200


def test_interface_is_chinese_with_an_english_catalogue(client):
    """Every string goes through Flask-Babel; Chinese is the default, `?lang=en` switches
    (the catalogue is compiled by `make`)."""
    assert "工作人员登录" in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Staff sign-in" in english and "工作人员登录" not in english
    assert "Staff sign-in" in client.get("/login").get_data(as_text=True)  # remembered for the session

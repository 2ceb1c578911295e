"""Test harness: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL), built
once per session through the migrations, emptied after every test."""
from __future__ import annotations

import os

import pytest
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade

from subsidy import create_app
from subsidy.common.database import reset_postgres_schema
from subsidy.common.statemachine import Machine
from subsidy.extensions import db as _db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "secret123"


class RequestIsolatingClient(FlaskClient):
    """Each test holds one app context, which Flask reuses for every request made inside it, so
    `g` would carry the signed-in user from one request to the next. Clear what the app keeps
    on `g` per request, so each request authenticates afresh as it does in production."""

    def open(self, *args, **kwargs):
        for name in ("_login_user", "api_user", "api_token_id", "rollback", "_flask_babel"):
            g.pop(name, None)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    reset_postgres_schema(database_url)
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SMS_OUTBOX_FILE": str(tmp_path_factory.mktemp("sms") / "sms-outbox.log"),
        "SERVER_NAME": None,
    })
    app.test_client_class = RequestIsolatingClient
    with app.app_context():
        upgrade()
        _db.session.remove()
        # Every state of a table with a state machine (an SMS's status included) changes
        # through its machine.
        Machine.guard(_db.engine)
    yield app
    with app.app_context():
        _db.engine.dispose()


def _truncate_all():
    tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
    bind = _db.engine
    with bind.begin() as conn:
        if bind.dialect.name == "postgresql":
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        else:
            for t in tables:
                conn.exec_driver_sql(f'DELETE FROM "{t}"')


@pytest.fixture(autouse=True)
def _clean_db(app):
    with app.app_context():
        yield
        _db.session.remove()
        _truncate_all()


@pytest.fixture(autouse=True)
def _limiter_follows_the_app(app):
    """Flask-Limiter keeps one `enabled` flag on the shared extension object, and every
    create_app() sets it from its own config; a test that builds a rate-limited app would
    leave limits on for every later test. Put the session app's setting back after each test."""
    from subsidy.extensions import limiter

    yield
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    if getattr(limiter, "_storage", None) is not None:
        limiter.reset()  # counts from one test never spill into the next


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def county(db):
    """A small county: 640425 with two townships of two villages each."""
    from tests.factories import make_county

    return make_county()


@pytest.fixture
def login_as(app, county):
    """login_as(role, region_code) -> a test client signed in as a new user of that role."""
    from tests.factories import make_user

    def _login(role: str, region_code: str | None = None):
        user = make_user(role, region_code)
        c = app.test_client()
        resp = c.post("/login", data={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 302, resp.data
        c.user = user
        return c

    return _login


@pytest.fixture
def api_as(app, county):
    """api_as(role, region_code) -> a client whose requests carry a bearer token."""
    from tests.factories import make_user

    def _api(role: str, region_code: str | None = None):
        user = make_user(role, region_code)
        c = app.test_client()
        resp = c.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 200, resp.json
        c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + resp.json["token"]
        c.user = user
        return c

    return _api

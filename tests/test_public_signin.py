"""The farmer's sign-in (issue 6): ID number + mobile → a 6-digit SMS code. The same answer for
registered and unregistered ID numbers; the code's limits; the farmer session's own keys."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy import create_app
from subsidy.audit.models import AuditEvent
from subsidy.notify.models import Message
from subsidy.public.models import LoginCode, MobileSignIn
from tests.factories import HouseholdFactory, make_county, valid_id_number
from tests.farmer_support import code_sent_to

T0 = datetime(2017, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in China


@pytest.fixture(autouse=True)
def _no_padding(app, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0)


@pytest.fixture
def household(county, db):
    h = HouseholdFactory(region_code="640425100201", head_name="张建华", phone="13800138001")
    db.session.commit()
    return h


def _ask(client, id_number, phone, **extra):
    return client.post("/m/login", data={"id_number": id_number, "phone": phone, **extra})


def _code_sent_to(db, phone) -> str:
    return code_sent_to(db, phone)


def _normalise(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


def test_registered_and_unregistered_id_numbers_get_the_same_answer(app, db, household):
    registered, unknown = app.test_client(), app.test_client()
    a = _ask(registered, household.id_number, household.phone)
    # a valid ID number nobody registered, with a number that masks the same (138****8001)
    b = _ask(unknown, valid_id_number(), "13811118001")
    c = app.test_client().post("/m/login", data={"id_number": household.id_number, "phone": "13900139009"})
    assert a.status_code == b.status_code == c.status_code == 200
    assert _normalise(a.get_data(as_text=True)) == _normalise(b.get_data(as_text=True))
    assert "138****8001" in a.get_data(as_text=True)
    assert sorted(k.split("=")[0] for k in a.headers.getlist("Set-Cookie")) == \
        sorted(k.split("=")[0] for k in b.headers.getlist("Set-Cookie"))
    db.session.rollback()
    # only the registered pair was texted, but every request was recorded alike
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginCode)) == 3
    # a wrong code fails with the same words either way
    wa = registered.post("/m/login/code", data={"code": "000000"}).get_data(as_text=True)
    wb = unknown.post("/m/login/code", data={"code": "000000"}).get_data(as_text=True)
    assert _normalise(wa) == _normalise(wb) and "还可以再试 4 次" in wa


def test_both_answers_take_the_same_minimum_time(app, db, household, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0.25)
    took = []
    for id_number, phone in ((household.id_number, household.phone), (valid_id_number(), "13900139011")):
        start = time.monotonic()
        assert _ask(app.test_client(), id_number, phone).status_code == 200
        took.append(time.monotonic() - start)
    assert min(took) >= 0.25


def test_format_errors_are_told_and_say_nothing_about_registration(client, household):
    resp = _ask(client, "123", "555")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "身份证号应为 18 位" in html and "手机号码" in html


def test_sign_in_with_the_code_from_the_sms(client, db, household):
    with time_machine.travel(T0, tick=False):
        assert _ask(client, household.id_number.lower(), household.phone).status_code == 200
        code = _code_sent_to(db, household.phone)
        resp = client.post("/m/login/code", data={"code": code})
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/m/me")
        me = client.get("/m/me")
        assert me.status_code == 200 and "张建华" in me.get_data(as_text=True)
    db.session.rollback()
    signed = db.session.get(MobileSignIn, household.id)
    assert signed.first_signed_in_at == T0 and signed.sign_ins == 1
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.action == "mobile.sign_in")) is not None
    # the code is spent: it cannot sign anybody in again
    assert db.session.scalar(sa.select(LoginCode.used_at)) == T0
    from subsidy.public.models import CodePurpose
    from subsidy.public.signin import CodeRejected, verify_code

    with pytest.raises(CodeRejected):
        verify_code(db.session.scalar(sa.select(LoginCode.id)), code, purpose=CodePurpose.login)


def test_second_sign_in_keeps_the_first_date(app, db, household):
    for when in (T0, T0 + timedelta(days=3)):
        c = app.test_client()
        with time_machine.travel(when, tick=False):
            _ask(c, household.id_number, household.phone)
            assert c.post("/m/login/code", data={"code": _code_sent_to(db, household.phone)}).status_code == 302
    db.session.rollback()
    signed = db.session.get(MobileSignIn, household.id)
    assert signed.first_signed_in_at == T0 and signed.last_signed_in_at == T0 + timedelta(days=3)
    assert signed.sign_ins == 2


def test_a_code_allows_five_tries(client, db, household):
    with time_machine.travel(T0, tick=False):
        _ask(client, household.id_number, household.phone)
        code = _code_sent_to(db, household.phone)
        wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
        for left in (4, 3, 2, 1):
            resp = client.post("/m/login/code", data={"code": wrong})
            assert resp.status_code == 200 and f"还可以再试 {left} 次" in resp.get_data(as_text=True)
        resp = client.post("/m/login/code", data={"code": wrong})
        assert "错误次数太多" in resp.get_data(as_text=True)
        # the right code no longer works
        resp = client.post("/m/login/code", data={"code": code})
        assert resp.status_code == 200 and "已失效" in resp.get_data(as_text=True)
        assert client.get("/m/me").status_code == 302
    db.session.rollback()
    assert db.session.scalar(sa.select(LoginCode.attempts)) == 5


def test_a_code_is_valid_five_minutes(client, db, household):
    with time_machine.travel(T0, tick=False):
        _ask(client, household.id_number, household.phone)
        code = _code_sent_to(db, household.phone)
    with time_machine.travel(T0 + timedelta(minutes=5, seconds=1), tick=False):
        resp = client.post("/m/login/code", data={"code": code})
        assert resp.status_code == 200 and "已失效" in resp.get_data(as_text=True)
    c2 = client.application.test_client()
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        _ask(c2, household.id_number, household.phone)
        code = _code_sent_to(db, household.phone)
    with time_machine.travel(T0 + timedelta(minutes=14, seconds=59), tick=False):
        assert c2.post("/m/login/code", data={"code": code}).status_code == 302


def test_one_code_a_minute_per_number_for_registered_and_unknown_alike(app, db, household):
    unknown_id = valid_id_number()
    with time_machine.travel(T0, tick=False):
        assert _ask(app.test_client(), household.id_number, household.phone).status_code == 200
        assert _ask(app.test_client(), unknown_id, "13900139001").status_code == 200
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        a = _ask(app.test_client(), household.id_number, household.phone)
        b = _ask(app.test_client(), unknown_id, "13900139001")
        assert a.status_code == b.status_code == 429
        assert "1 分钟后再试" in a.get_data(as_text=True)
        assert _normalise(a.get_data(as_text=True)).replace(household.id_number, "X").replace(household.phone, "P") == \
            _normalise(b.get_data(as_text=True)).replace(unknown_id, "X").replace("13900139001", "P")
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        assert _ask(app.test_client(), household.id_number, household.phone).status_code == 200
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_ten_codes_a_day_per_number(app, db, household):
    for i in range(10):
        with time_machine.travel(T0 + timedelta(minutes=2 * i), tick=False):
            assert _ask(app.test_client(), household.id_number, household.phone).status_code == 200, i
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        resp = _ask(app.test_client(), household.id_number, household.phone)
        assert resp.status_code == 429 and "明天再试" in resp.get_data(as_text=True)
    # the next day in China (T0 is 10:00 CST; 16:00 UTC is midnight CST)
    with time_machine.travel(datetime(2017, 6, 1, 16, 0, 5, tzinfo=UTC), tick=False):
        assert _ask(app.test_client(), household.id_number, household.phone).status_code == 200
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 11


def test_code_requests_are_limited_per_address_by_failures(database_url):
    """Farmers behind a carrier's NAT share one address: their code requests are not counted
    against each other (only a flood cap, far above), their failures are. The autouse fixture
    switches the shared limiter off again afterwards."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "t", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": True, "MOBILE_CODE_LIMIT_PER_ADDRESS": "40 per minute",
                      "MOBILE_CODE_FAILURES_PER_ADDRESS": "3 per minute",
                      "MOBILE_VERIFY_FAILURES_PER_ADDRESS": "4 per minute", "MOBILE_CODE_MIN_SECONDS": 0})
    with app.app_context():
        make_county()
        ask = [app.test_client().post("/m/login", data={"id_number": valid_id_number(), "phone": f"1390013{i:04d}"})
               .status_code for i in range(30)]
        assert ask == [200] * 30            # the 21st farmer of the hour is no longer refused
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "10.0.0.8"
        bad = [client.post("/m/login", data={"id_number": "1", "phone": "12"}).status_code for _ in range(4)]
        assert bad == [422, 422, 422, 429]  # failures are
        assert client.post("/m/login", data={"id_number": valid_id_number(), "phone": "13900138887"}).status_code == 429
        flood = [app.test_client().post("/m/login", data={"id_number": valid_id_number(), "phone": f"1370013{i:04d}"})
                 .status_code for i in range(12)]
        assert flood.count(429) == 2        # the flood cap: 40 a minute from one address, whatever they are
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
        assert other.post("/m/login", data={"id_number": valid_id_number(), "phone": "13900138888"}).status_code == 200
        tries = [other.post("/m/login/code", data={"code": "123456"}).status_code for _ in range(6)]
        assert tries[:4] == [200] * 4 and tries[4:] == [429, 429]
        from subsidy.extensions import db as _db

        _db.session.remove()


def test_phone_only_confirmation_needs_no_household(client, db, county):
    resp = client.post("/m/login", data={"mode": "phone", "phone": "13700137000", "next": "/m/cases/new"})
    assert resp.status_code == 200
    code = _code_sent_to(db, "13700137000")
    resp = client.post("/m/login/code", data={"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/m/cases/new")
    # a confirmed phone is not a signed-in household
    assert client.get("/m/me").status_code == 302


def test_farmer_session_expires_and_is_not_a_staff_session(app, client, db, household, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_SESSION_MINUTES", 30)
    with time_machine.travel(T0, tick=False):
        _ask(client, household.id_number, household.phone)
        client.post("/m/login/code", data={"code": _code_sent_to(db, household.phone)})
        assert client.get("/m/me").status_code == 200
        assert client.get("/home").status_code == 302          # staff pages still want a staff login
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        resp = client.get("/m/me")
        assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


def test_open_redirects_are_refused(client, db, household):
    _ask(client, household.id_number, household.phone, next="https://evil.example/")
    resp = client.post("/m/login/code", data={"code": _code_sent_to(db, household.phone)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/m/me")

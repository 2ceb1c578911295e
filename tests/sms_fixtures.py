"""Fixtures and helpers shared by tests/test_sms*.py (imported there, so conftest stays shared)."""
from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from subsidy.common.statemachine import Machine
from subsidy.extensions import db
from subsidy.notify.models import Message
from subsidy.notify.outbox import enqueue
from tools.fake_twilio import FakeTwilio

PUBLIC = "https://huinong.example.gov.cn"
T0 = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 in the county; after any real "now"


@pytest.fixture(autouse=True)
def sms_transitions_guarded(app):
    """The state machines' guard is on for the whole suite (tests/conftest.py): a change of a
    message's status made anywhere but through `subsidy.notify.lifecycle.MACHINE` (an UPDATE
    written by hand, an ORM attribute set and flushed) raises `statemachine.Bypass`. The SMS
    tests check it is on, and covers the SMS table, rather than rely on it silently."""
    from subsidy.notify.lifecycle import MACHINE

    with app.app_context():
        assert Machine.guarded(db.engine) and Machine.registry["sms"] is MACHINE


@pytest.fixture
def fake():
    with FakeTwilio(slow_seconds=1.5) as server:
        yield server


@pytest.fixture
def twilio(app, fake, monkeypatch):
    """The app's gateway is the real twilio client, pointed at the fake over HTTP."""
    for key, value in fake.app_config().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "TWILIO_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)
    monkeypatch.setitem(app.config, "SMS_RETRY_BASE_SECONDS", 30)
    monkeypatch.setitem(app.config, "SMS_MAX_ATTEMPTS", 8)
    monkeypatch.setitem(app.config, "SMS_LEASE_SECONDS", 120)
    return fake


def make_worker(**kw):
    from subsidy.notify.worker import Worker

    kw.setdefault("rng", random.Random(7))
    return Worker(**kw)


def owe(household, key: str | None = None, template: str = "filing_approved", **context) -> Message:
    """The filing approval SMS, as the filings area owes it."""
    context = {"name": household.head_name, "project": "耕地地力保护补贴", "amount": "1312.50", **context}
    message = enqueue(template, key=key or f"filing_approved:1:{household.id}", phone=household.phone,
                      region_code=household.region_code, context=context, household_id=household.id)
    db.session.commit()
    return message


def reload(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def all_messages() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Message).order_by(Message.id)))


def e164(phone: str) -> str:
    return "+86" + phone

"""The outbox contract (enqueue / enqueue_bulk) and the templates' segment counts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.notify.models import Message, MessageStatus
from subsidy.notify.outbox import enqueue, enqueue_bulk
from subsidy.notify.templates import render, segment_count
from tests.factories import HouseholdFactory, OptOutFactory
from tests.sms_fixtures import owe


@pytest.mark.parametrize("length, segments", [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_chinese_text_is_ucs2_70_then_67_per_segment(length, segments):
    assert segment_count("补" * length) == segments


@pytest.mark.parametrize("length, segments", [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_plain_latin_text_is_gsm7_160_then_153(length, segments):
    assert segment_count("a" * length) == segments


def test_gsm_extension_characters_count_double_and_one_chinese_character_makes_ucs2():
    assert segment_count("{" * 80) == 1 and segment_count("{" * 81) == 2
    assert segment_count("a" * 69 + "补") == 1 and segment_count("a" * 70 + "补") == 2


def test_templates_carry_the_county_signature(db, county):
    household = HouseholdFactory(head_name="张三")
    message = owe(household)
    assert message.body.startswith("【彭阳县惠农】张三户：")
    assert message.segments == segment_count(message.body)
    assert render("test", "【惠农】", {"body": "你好"}) == "【惠农】你好"
    with pytest.raises(ValueError):
        render("no_such_template", "【惠农】", {})


def test_the_same_event_never_makes_two_messages(db, county):
    household = HouseholdFactory()
    first = owe(household, key="filing_approved:9:1")
    again = owe(household, key="filing_approved:9:1")
    assert first is not None and again is None
    added = enqueue_bulk("filing_approved", [
        {"key": "filing_approved:9:1", "phone": household.phone, "region_code": household.region_code,
         "context": {"name": "x", "project": "y", "amount": "1"}},
        {"key": "filing_approved:9:2", "phone": household.phone, "region_code": household.region_code,
         "context": {"name": "x", "project": "y", "amount": "1"}},
    ])
    assert added == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_no_phone_and_opted_out_are_owed_visibly_not_silently_dropped(db, county):
    no_phone = HouseholdFactory(phone=None)
    opted = HouseholdFactory()
    OptOutFactory(phone=opted.phone)
    a, b = owe(no_phone), owe(opted)
    assert (a.status, a.error_code) == (MessageStatus.failed, "no_phone")
    assert (b.status, b.error_code) == (MessageStatus.cancelled, "opted_out")
    assert "退订" in b.error_message and "无手机号码" in a.error_message


def test_enqueue_writes_in_the_callers_transaction(db, county):
    household = HouseholdFactory()
    db.session.commit()
    enqueue("filing_approved", key="k:rollback", phone=household.phone, region_code=household.region_code,
            context={"name": "x", "project": "y", "amount": "1"}, household_id=household.id)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0

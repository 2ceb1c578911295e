"""The outbox contract (enqueue / enqueue_bulk) and the templates' segment counts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.households.models import Household
from subsidy.notify.models import Message, MessageStatus
from subsidy.notify.outbox import enqueue, enqueue_bulk, enqueue_select
from subsidy.notify.templates import render, render_sql, segment_count
from tests.factories import HouseholdFactory, OptOutFactory
from tests.sms_fixtures import owe


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_chinese_text_is_ucs2_70_then_67_per_segment(length, segments):
    assert segment_count("补" * length) == segments


@pytest.mark.parametrize(("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3)])
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


def test_enqueue_select_owes_what_enqueue_bulk_would(db, county):
    """The set-based path (county approval) renders, counts segments and marks the unsendable
    exactly as the row path: a name of characters outside the BMP takes two UTF-16 units each
    (13 of them make the body 71 units: two segments), 25 plain characters still fit one."""
    households = [HouseholdFactory(head_name="张三"), HouseholdFactory(head_name="𠀀" * 13),
                  HouseholdFactory(head_name="李" * 25), HouseholdFactory(head_name="李" * 26),
                  HouseholdFactory(phone=None), HouseholdFactory(phone=""), HouseholdFactory()]
    OptOutFactory(phone=households[-1].phone)
    owe(households[0], key=f"select:{households[0].id}")  # already owed: skipped
    ids = [h.id for h in households]
    source = sa.select((sa.literal("select:") + sa.cast(Household.id, sa.String)).label("key"),
                       Household.phone.label("phone"), Household.region_code.label("region_code"),
                       Household.id.label("household_id"), sa.cast(sa.null(), sa.Integer).label("entry_id"),
                       Household.head_name.label("name")).where(Household.id.in_(ids))
    constants = {"project": "耕地地力保护补贴", "amount": "1312.50"}
    added = enqueue_select("filing_approved", source, signature_region="640425", constants=constants)
    db.session.commit()
    assert added == len(households) - 1
    got = {m.household_id: m for m in db.session.scalars(sa.select(Message).where(Message.key.like("select:%")))}
    for h in households:
        m = got[h.id]
        body = render("filing_approved", "【彭阳县惠农】", {"name": h.head_name, **constants})
        assert (m.body, m.segments, m.template) == (body, segment_count(body), "filing_approved")
    assert [got[h.id].segments for h in households[1:4]] == [2, 1, 2]
    assert [(got[h.id].status, got[h.id].error_code, got[h.id].to_phone) for h in households[4:]] == [
        (MessageStatus.failed, "no_phone", None), (MessageStatus.failed, "no_phone", None),
        (MessageStatus.cancelled, "opted_out", households[-1].phone)]
    assert got[households[1].id].status == MessageStatus.queued and got[households[1].id].status_at is None
    assert got[households[4].id].status_at is not None
    assert enqueue_select("filing_approved", source, signature_region="640425", constants=constants) == 0


def test_render_sql_refuses_a_template_that_may_be_gsm7(db):
    """Its segments would depend on each row's characters: such a template stays on the row path."""
    with pytest.raises(ValueError, match="GSM-7"):
        render_sql("test", "[HN]", {}, {"body": Household.head_name})

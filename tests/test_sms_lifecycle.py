"""The state machine of an SMS message (subsidy.notify.lifecycle.MACHINE): every (state, event)
pair does exactly what the table says, in SQL and in Python; what it forbids is refused; and a
status change that bypasses the machine fails (the engine's guard, which every test runs under)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.common.statemachine import Bypass, sets_state
from subsidy.errors import InvalidTransition
from subsidy.notify import lifecycle
from subsidy.notify.lifecycle import MACHINE, Event
from subsidy.notify.models import FINAL_STATUSES, Message, MessageStatus
from tests.factories import MessageFactory
from tests.sms_fixtures import reload, sms_transitions_guarded  # noqa: F401

S = MessageStatus
M = Message.__table__
PAIRS = [(state, event) for event in Event for state in S]
# The order a status moves in; the provider's reports may only move a message forward.
RANK = {S.queued: 0, S.sending: 1, S.sent: 2, S.delivered: 3, S.undelivered: 3, S.failed: 3, S.cancelled: 3}


@pytest.mark.parametrize(("state", "event"), PAIRS, ids=[f"{s.value}-{e.value}" for s, e in PAIRS])
def test_each_event_from_each_state_does_what_the_table_says(db, county, state, event):
    message = MessageFactory(status=state, lease_owner="me")
    db.session.commit()
    changed = db.session.execute(MACHINE.update(event, M.c.id == message.id)).rowcount
    db.session.commit()
    rule = MACHINE.rule(state, event)
    if rule is not None:
        assert changed == 1 and reload(message.id).status == rule.target_from(state)
        assert MACHINE.check(state, event, internal=True) is rule
    else:
        assert changed == 0 and reload(message.id).status == state
        with pytest.raises(InvalidTransition):
            MACHINE.check(state, event, internal=True)


def test_a_set_based_update_changes_only_the_rows_the_table_allows(db, county):
    rows = {state: MessageFactory(status=state) for state in S}
    db.session.commit()
    ids = [m.id for m in rows.values()]
    changed = set(db.session.scalars(MACHINE.update(Event.reported_delivered, M.c.id.in_(ids))
                                     .returning(M.c.id)))
    db.session.commit()
    assert changed == {rows[s].id for s in MACHINE.sources(Event.reported_delivered)}
    assert {reload(m.id).status for m in rows.values() if m.id not in changed} == FINAL_STATUSES


def test_an_executemany_applies_the_table_row_by_row(db, county):
    """The worker records a group of outcomes as one executemany of one statement."""
    sending, failed = MessageFactory(status=S.sending), MessageFactory(status=S.failed)
    db.session.commit()
    stmt = MACHINE.update(Event.accepted, M.c.id == sa.bindparam("m_id"), provider_sid=sa.bindparam("m_sid"))
    assert db.session.execute(stmt, [{"m_id": sending.id, "m_sid": "SMa"}, {"m_id": failed.id, "m_sid": "SMb"}]
                              ).rowcount == 1
    db.session.commit()
    assert (reload(sending.id).status, reload(sending.id).provider_sid) == (S.sent, "SMa")
    assert (reload(failed.id).status, reload(failed.id).provider_sid) == (S.failed, None)


def test_no_event_leaves_a_final_state_and_reports_only_move_forward():
    for rule in MACHINE.rules:
        assert rule.internal, rule.action  # no page or API takes an SMS's transitions
        assert not FINAL_STATUSES & set(rule.sources), rule.action
        if rule.action.value.startswith("reported_"):
            assert all(RANK[s] < RANK[rule.target] for s in rule.sources), rule.action
    assert set(lifecycle.REPORTED.values()) == {e for e in Event if e.value.startswith("reported_")}
    # Only the outbox's INSERT creates a message, in one of these.
    assert {S.queued, S.failed, S.cancelled} == lifecycle.INITIAL


def test_the_caller_cannot_choose_the_status():
    with pytest.raises(ValueError):
        MACHINE.update(Event.retry, M.c.id == 1, status=S.delivered)


@pytest.mark.parametrize(("sql", "sets"), [
    ("UPDATE sms_messages SET status=? WHERE sms_messages.id = ?", True),
    ('UPDATE "sms_messages" SET provider_calls=?, "status"=%(status)s WHERE id = 1', True),
    ("UPDATE sms_messages SET status_at=?, error_code=? WHERE sms_messages.status = ?", False),
    ("UPDATE sms_messages SET lease_expires_at=? WHERE status = 'sending' RETURNING id", False),
    ("UPDATE sms_control SET status=?", False),
    ("SELECT status FROM sms_messages", False),
])
def test_the_guard_recognises_a_status_change(sql, sets):
    assert (sets_state(sql) == "sms") is sets


def test_a_hand_written_status_update_is_refused(db, county):
    message = MessageFactory(status=S.sending)
    db.session.commit()
    with pytest.raises(Bypass):
        db.session.execute(sa.update(M).where(M.c.id == message.id).values(status=S.sent))
    db.session.rollback()
    # Other columns may still be changed outside the table (the lease, the look-up marker).
    db.session.execute(sa.update(M).where(M.c.id == message.id).values(lease_owner="w", provider_calls=2))
    db.session.commit()
    assert reload(message.id).status == S.sending


def test_an_orm_status_change_is_refused(db, county):
    message = MessageFactory(status=S.failed)
    db.session.commit()
    message.status = S.queued
    with pytest.raises(Bypass):
        db.session.flush()
    db.session.rollback()
    assert reload(message.id).status == S.failed

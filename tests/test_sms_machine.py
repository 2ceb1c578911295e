"""The SMS message table walked row by row (subsidy.notify.lifecycle.MACHINE), on the shared
engine: every allowed (state, event) moves a message where the row says, by a claim and by a
set-based update; every other pair is refused (409) and changes nothing; and since every row is
internal (the worker's and the provider's), no staff role may take one from a page or the API
(409 from `check`, 403 from `authorize`). Data-driven from the table, so it grows with it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.accounts.models import Role
from subsidy.errors import InvalidTransition, PermissionDenied
from subsidy.notify.lifecycle import MACHINE, Event
from subsidy.notify.models import Message, MessageStatus
from tests.factories import DEFAULT_REGION, MessageFactory, UserFactory
from tests.sms_fixtures import reload, sms_transitions_guarded  # noqa: F401

S = MessageStatus
M = Message.__table__
ALLOWED = [(source, rule) for rule in MACHINE.rules for source in rule.sources]
REFUSED = [(state, event) for event in Event for state in S if not MACHINE.allows(state, event)]


def _ids(pairs):
    return [f"{s.value}-{getattr(r, 'action', r).value}" for s, r in pairs]


def test_the_table_names_every_event_and_only_message_states():
    assert {r.action for r in MACHINE.rules} == set(Event)
    assert all(isinstance(s, MessageStatus) for r in MACHINE.rules for s in (*r.sources, *r.targets))
    assert ALLOWED and REFUSED


@pytest.mark.parametrize(("source", "rule"), ALLOWED, ids=_ids(ALLOWED))
def test_an_allowed_row_moves_the_message_by_a_claim(db, county, source, rule):
    message = MessageFactory(status=source, lease_owner="w")
    db.session.commit()
    assert MACHINE.check(source, rule.action, internal=True) is rule
    MACHINE.claim(message.id, rule, source=source, values={"lease_owner": None})
    db.session.commit()
    after = reload(message.id)
    assert (after.status, after.lease_owner) == (rule.target_from(source), None)


@pytest.mark.parametrize(("source", "rule"), ALLOWED, ids=_ids(ALLOWED))
def test_an_allowed_row_moves_the_message_by_a_set_based_update(db, county, source, rule):
    message = MessageFactory(status=source)
    db.session.commit()
    assert db.session.execute(MACHINE.update(rule.action, M.c.id == message.id)).rowcount == 1
    db.session.commit()
    assert reload(message.id).status == rule.target_from(source)


@pytest.mark.parametrize(("state", "event"), REFUSED, ids=_ids(REFUSED))
def test_any_other_pair_is_refused_and_changes_nothing(db, county, state, event):
    message = MessageFactory(status=state)
    db.session.commit()
    with pytest.raises(InvalidTransition) as refused:
        MACHINE.check(state, event, internal=True)
    assert refused.value.status == 409
    assert db.session.execute(MACHINE.update(event, M.c.id == message.id)).rowcount == 0
    db.session.commit()
    assert reload(message.id).status == state


@pytest.mark.parametrize(("source", "rule"), ALLOWED, ids=_ids(ALLOWED))
def test_no_page_or_api_may_take_a_row(db, county, source, rule):
    """Internal rows: refused to a caller that is not the worker or a provider report as if
    there were none (409), and to every staff role (403)."""
    assert rule.internal
    with pytest.raises(InvalidTransition):
        MACHINE.check(source, rule.action)
    for role in Role:
        actor = UserFactory(role=role, region_code=DEFAULT_REGION[role.value])
        assert not MACHINE.may(actor, rule)
        with pytest.raises(PermissionDenied) as denied:
            MACHINE.authorize(actor, rule)
        assert denied.value.status == 403
    db.session.rollback()


def test_a_claim_from_a_state_the_message_left_is_stale(db, county):
    """Two workers (or a worker and a callback) acting on what they saw: the second finds the
    message moved on and changes nothing."""
    from subsidy.errors import StaleVersion

    message = MessageFactory(status=S.queued)
    db.session.commit()
    rule = MACHINE.rule(S.queued, Event.claim)
    MACHINE.claim(message.id, rule, source=S.queued)
    with pytest.raises(StaleVersion):
        MACHINE.claim(message.id, rule, source=S.queued)
    db.session.commit()
    assert reload(message.id).status == S.sending
    assert db.session.scalar(sa.select(sa.func.count()).select_from(M)) == 1

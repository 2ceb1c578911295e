"""The state machines of payments, batches and policies, walked from their tables: every row
works from its source; every other (state, action) pair is refused with 409; a role without
the row's permission is refused with 403 (and a row only another area takes, to everyone).
Data-driven: a row added to a table is walked here without a new test."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from subsidy.accounts.models import Role
from subsidy.accounts.permissions import holders
from subsidy.errors import Conflict, InvalidTransition, PermissionDenied
from subsidy.extensions import db
from subsidy.filings.models import FilingState
from subsidy.payments import lifecycle
from subsidy.payments import service as payments
from subsidy.payments.lifecycle import BATCHES, PAYMENTS, BatchEvent, PaymentEvent
from subsidy.payments.models import BatchStatus, Payment, PaymentBatch, PaymentStatus
from subsidy.policies import service as policies
from subsidy.policies.models import Policy, PolicyAction, PolicyStatus
from tests.factories import PolicyFactory, ProjectFactory, make_user
from tests.filings_support import make_world, walk_to

NOW = datetime(2017, 9, 1, tzinfo=UTC)


def _pairs(states, actions):
    return [(s, a) for s in states for a in actions]


def holders_set(perm) -> set[Role]:
    return set(holders(perm))


# --- payments ------------------------------------------------------------------------------

def _pending_payments(n: int) -> tuple[object, list[Payment]]:
    w = make_world(n)
    walk_to(w, FilingState.county_approved)
    db.session.commit()
    result = payments.create_batch(w.county, w.project.id)
    db.session.commit()
    return w, list(db.session.scalars(sa.select(Payment).where(Payment.batch_id == result.batch.id)
                                      .order_by(Payment.seq)))


def _status(payment_id: int) -> PaymentStatus:
    return db.session.scalar(sa.select(Payment.status).where(Payment.id == payment_id))


def test_every_payment_row_works_and_every_other_pair_is_refused(county):
    rows = list(PAYMENTS.by_source.items())
    w, made = _pending_payments(len(rows) + 1)
    in_state: dict[PaymentStatus, int] = {PaymentStatus.pending: made[-1].id}
    for ((source, action), rule), payment in zip(rows, made, strict=False):
        assert _status(payment.id) == source
        changed = db.session.execute(PAYMENTS.update(action, Payment.id == payment.id, result_at=NOW)).rowcount
        assert changed == 1 and _status(payment.id) == rule.target_from(source)
        in_state[rule.target_from(source)] = payment.id
    db.session.commit()
    assert set(in_state) == set(PaymentStatus)  # the walk reached every state

    refused = 0
    for state, action in _pairs(PaymentStatus, PaymentEvent):
        if PAYMENTS.allows(state, action):
            continue
        with pytest.raises(InvalidTransition) as exc:
            PAYMENTS.check(state, action, internal=True)
        assert exc.value.status == 409
        # set-based, the UPDATE's WHERE leaves such a row alone
        assert db.session.execute(PAYMENTS.update(action, Payment.id == in_state[state])).rowcount == 0
        assert _status(in_state[state]) == state
        refused += 1
    assert refused == len(PaymentStatus) * len(PaymentEvent) - len(rows)


def test_payment_rows_are_the_result_imports_and_the_batches_only(county):
    for (state, action), rule in PAYMENTS.by_source.items():
        assert rule.internal
        with pytest.raises(InvalidTransition):  # a page or the API: as if there were no row
            PAYMENTS.check(state, action)
        for role in Role:
            with pytest.raises(PermissionDenied):
                PAYMENTS.authorize(make_user(role.value), rule)


# --- batches -------------------------------------------------------------------------------

def _batch(project, status: BatchStatus) -> PaymentBatch:
    batch = PaymentBatch(county_code="640425", project_id=project.id, status=status)
    db.session.add(batch)
    db.session.commit()
    return batch


def _take(actor, batch: PaymentBatch, action: BatchEvent) -> None:
    """A batch action as the platform takes it: 作废 by the county reviewer's service, 回盘完毕
    by the result import's."""
    if action is BatchEvent.cancel:
        payments.cancel_batch(actor, batch.id, "账号批量有误")
    else:
        lifecycle.move_batch(lifecycle.lock_batch(batch), action, NOW)


def test_every_batch_row_works_and_every_other_pair_is_refused(county):
    project = ProjectFactory()
    reviewer = make_user("county_reviewer")
    for (source, action), rule in BATCHES.by_source.items():
        batch = _batch(project, source)
        _take(reviewer, batch, action)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(PaymentBatch, batch.id).status == rule.target_from(source)
    refused = 0
    for state, action in _pairs(BatchStatus, BatchEvent):
        if BATCHES.allows(state, action):
            continue
        batch = _batch(project, state)
        with pytest.raises(InvalidTransition):
            BATCHES.check(state, action, internal=True)
        with pytest.raises(Conflict) as exc:
            _take(reviewer, batch, action)
        assert exc.value.status == 409
        db.session.rollback()
        assert db.session.get(PaymentBatch, batch.id).status == state
        refused += 1
    assert refused == len(BatchStatus) * len(BatchEvent) - len(BATCHES.by_source)


def test_batch_rows_refuse_a_role_without_their_permission(county):
    project = ProjectFactory()
    for (source, action), rule in BATCHES.by_source.items():
        batch = _batch(project, source)
        if rule.internal:
            with pytest.raises(InvalidTransition):
                BATCHES.check(source, action)
        for role in Role:
            actor = make_user(role.value)
            if rule.internal or role not in holders_set(rule.perm):
                with pytest.raises(PermissionDenied):
                    BATCHES.authorize(actor, rule)
                if not rule.internal:
                    with pytest.raises(PermissionDenied):
                        _take(actor, batch, action)
                    db.session.rollback()
            else:
                BATCHES.authorize(actor, rule)
        assert db.session.get(PaymentBatch, batch.id).status == source


# --- policies ------------------------------------------------------------------------------

def _policy(status: PolicyStatus) -> Policy:
    extra = {}
    if status is not PolicyStatus.draft:
        extra["published_at"] = NOW
    if status is PolicyStatus.withdrawn:
        extra.update(withdrawn_at=NOW, withdrawn_reason="废止")
    policy = PolicyFactory(status=status, **extra)
    db.session.commit()
    return policy


def _act(actor, policy: Policy, action: PolicyAction):
    """A policy action through its service, as the pages and the API take it."""
    if action is PolicyAction.publish:
        return policies.publish_policy(actor, policy.id)
    if action is PolicyAction.withdraw:
        return policies.withdraw_policy(actor, policy.id, "政策废止")
    return policies.update_policy(actor, policy.id, title=policy.title + "（修订）", body=policy.body,
                                  region_code=policy.region_code, category=policy.category.value)


def test_every_policy_row_works_and_every_other_pair_is_refused(county):
    admin = make_user("county_admin")
    for (source, action), rule in policies.MACHINE.by_source.items():
        policy = _policy(source)
        _act(admin, policy, action)
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Policy, policy.id).status == rule.target_from(source)
        assert action.value in policies.available_actions(admin, _policy(source))
    refused = 0
    for state, action in _pairs(PolicyStatus, PolicyAction):
        if policies.MACHINE.allows(state, action):
            continue
        policy = _policy(state)
        with pytest.raises(InvalidTransition):
            policies.MACHINE.check(state, action)
        with pytest.raises(InvalidTransition) as exc:
            _act(admin, policy, action)
        assert exc.value.status == 409
        db.session.rollback()
        assert db.session.get(Policy, policy.id).status == state
        assert action.value not in policies.available_actions(admin, policy)
        refused += 1
    assert refused == len(PolicyStatus) * len(PolicyAction) - len(policies.MACHINE.by_source)


def test_policy_rows_refuse_a_role_without_their_permission(county):
    for (source, action), rule in policies.MACHINE.by_source.items():
        assert not rule.internal
        policy = _policy(source)
        for role in Role:
            actor = make_user(role.value)
            if role in holders_set(rule.perm):
                policies.MACHINE.authorize(actor, rule)
                continue
            with pytest.raises(PermissionDenied) as exc:
                _act(actor, policy, action)
            assert exc.value.status == 403
            with pytest.raises(PermissionDenied):
                policies.MACHINE.authorize(actor, rule)
            db.session.rollback()
            assert action.value not in policies.available_actions(actor, policy)
        assert db.session.get(Policy, policy.id).status == source

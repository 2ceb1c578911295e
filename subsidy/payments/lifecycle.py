"""The state machines of a payment and of a batch: the only code that changes `Payment.status`
or `PaymentBatch.status` (one engine for every table: `subsidy.common.statemachine`;
docs/architecture.md "State machines" shows them).

    payment:  pending ──bank says 成功──▶ paid
              pending ──bank says 失败──▶ failed      (re-issued as a new payment, never reopened)
              pending ──batch withdrawn─▶ cancelled
              pending ──entry held (止付), batch not exported──▶ cancelled

    batch:    open ──every payment answered──▶ settled
              open ──withdrawn (作废), before any answer──▶ cancelled

The bank's results and a batch's settlement are taken by the result import, never by a page or
the API (`internal` rows); a payment is cancelled only with its batch. Changes of many payments
are set-based (`PAYMENTS.update`: the WHERE holds the states the action leaves), a batch's one
row is claimed (`BATCHES.claim`).

A bank result that contradicts one already recorded is not a transition: the result import
reports it (subsidy.payments.results) and changes nothing. Callers hold the batch row locked
(`lock_batch`) while they read statuses and apply a change, so two imports of one batch cannot
both apply the same pending payment.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm
from subsidy.common.database import lock_rows
from subsidy.common.labels import Labelled, _l
from subsidy.common.statemachine import Machine, Rule
from subsidy.extensions import db
from subsidy.payments.models import BatchStatus, Payment, PaymentBatch, PaymentStatus
from subsidy.regions.models import Level


class PaymentEvent(Labelled):
    bank_paid = "bank_paid", _l("记为发放成功")
    bank_failed = "bank_failed", _l("记为发放失败")
    batch_cancelled = "batch_cancelled", _l("随批次作废")
    hold_cancelled = "hold_cancelled", _l("止付作废")


class BatchEvent(Labelled):
    settle = "settle", _l("回盘完毕")
    cancel = "cancel", _l("作废")


P, B = PaymentStatus, BatchStatus
_PAYMENT = Payment.__table__.c

PAYMENTS = Machine("payment", state=Payment.status, noun="发放记录", rules=[
    Rule(PaymentEvent.bank_paid, (P.pending,), P.paid, internal=True),
    Rule(PaymentEvent.bank_failed, (P.pending,), P.failed, internal=True),
    # Only with its batch (cancel_batch), which the batch's own row authorises.
    Rule(PaymentEvent.batch_cancelled, (P.pending,), P.cancelled, internal=True),
    # 止付 of an entry whose batch the bank has not had yet (subsidy.filings.holds).
    Rule(PaymentEvent.hold_cancelled, (P.pending,), P.cancelled, internal=True),
])

BATCHES = Machine("payment_batch", state=PaymentBatch.status, noun="批次", rules=[
    Rule(BatchEvent.settle, (B.open,), B.settled, internal=True),
    Rule(BatchEvent.cancel, (B.open,), B.cancelled, perm=Perm.manage_payments, tier=Level.county),
])

# The column a batch's change stamps beside its state.
_STAMP = {BatchEvent.settle: "settled_at", BatchEvent.cancel: "cancelled_at"}


def lock_batch(batch: PaymentBatch) -> PaymentBatch:
    """Serialise changes to one batch (PostgreSQL row lock; SQLite writers are serialised by
    BEGIN IMMEDIATE already) and re-read its status under the lock."""
    db.session.execute(lock_rows(sa.select(PaymentBatch.id).where(PaymentBatch.id == batch.id)))
    db.session.refresh(batch)
    return batch


# One executemany per bank result: the payment by key, the columns a result sets as binds.
_RESULT_COLUMNS = ("bank_ref", "failure_reason", "result_at", "result_import_id")


def _result_statement(event: PaymentEvent):
    return PAYMENTS.update(event, _PAYMENT.id == sa.bindparam("r_id"),
                           **{name: sa.bindparam(f"r_{name}") for name in _RESULT_COLUMNS})


def apply_bank_results(results: list[dict]) -> None:
    """Each dict: the payment (`payment`), its `event` (bank_paid / bank_failed) and the columns
    the result sets. The table is checked for every row first; then one executemany per event,
    whose WHERE also holds the states the event leaves."""
    by_event: dict[PaymentEvent, list[dict]] = {}
    for r in results:
        p, event = r.pop("payment"), r.pop("event")
        PAYMENTS.check(p.status, event, internal=True)
        by_event.setdefault(event, []).append(
            {"r_id": p.id, **{f"r_{name}": r.get(name) for name in _RESULT_COLUMNS}})
    for event, rows in by_event.items():
        stmt = _result_statement(event)
        for i in range(0, len(rows), 500):
            db.session.execute(stmt, rows[i:i + 500])


def cancel_payments(batch: PaymentBatch, now: datetime) -> int:
    """Every payment of the batch the table lets go with it, in one UPDATE."""
    return db.session.execute(
        PAYMENTS.update(PaymentEvent.batch_cancelled, _PAYMENT.batch_id == batch.id, result_at=now)).rowcount


def cancel_held_payment(payment_id: int, now: datetime) -> int:
    """The one pending payment of an entry just held (止付), its batch not exported."""
    return db.session.execute(
        PAYMENTS.update(PaymentEvent.hold_cancelled, _PAYMENT.id == payment_id, result_at=now)).rowcount


def move_batch(batch: PaymentBatch, event: BatchEvent, now: datetime, **fields) -> None:
    """Claim the batch's row along `event` (409 if the table has no such row for its status),
    stamping when, with `fields` in the same UPDATE."""
    rule = BATCHES.check(batch.status, event, internal=True)
    values = {_STAMP[event]: now, **fields}
    BATCHES.claim(batch.id, rule, source=batch.status, values=values,
                  stale="刚刚已被他人处理，请刷新页面后重试")
    db.session.refresh(batch)

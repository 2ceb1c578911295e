"""The transition tables of a payment and of a batch: the only code that changes
`Payment.status` or `PaymentBatch.status` (issue 7, the house rule "one place per state").

    payment:  pending ──bank says 成功──▶ paid
              pending ──bank says 失败──▶ failed      (re-issued as a new payment, never reopened)
              pending ──batch withdrawn─▶ cancelled

    batch:    open ──every payment answered──▶ settled
              open ──withdrawn (作废), before any answer──▶ cancelled

A bank result that contradicts one already recorded is not a transition: the result import
reports it (subsidy.payments.results) and changes nothing. Callers hold the batch row locked
(`lock_batch`) while they read statuses and apply a change, so two imports of one batch cannot
both apply the same pending payment.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa

from subsidy.errors import InvalidTransition
from subsidy.extensions import db
from subsidy.payments.models import BatchStatus, Payment, PaymentBatch, PaymentStatus


class PaymentEvent(enum.Enum):
    bank_paid = "bank_paid"
    bank_failed = "bank_failed"
    batch_cancelled = "batch_cancelled"


class BatchEvent(enum.Enum):
    settle = "settle"
    cancel = "cancel"


P, B = PaymentStatus, BatchStatus
PAYMENT_TRANSITIONS: dict[tuple[PaymentStatus, PaymentEvent], PaymentStatus] = {
    (P.pending, PaymentEvent.bank_paid): P.paid,
    (P.pending, PaymentEvent.bank_failed): P.failed,
    (P.pending, PaymentEvent.batch_cancelled): P.cancelled,
}
BATCH_TRANSITIONS: dict[tuple[BatchStatus, BatchEvent], BatchStatus] = {
    (B.open, BatchEvent.settle): B.settled,
    (B.open, BatchEvent.cancel): B.cancelled,
}


def payment_sources(event: PaymentEvent) -> list[PaymentStatus]:
    return [state for (state, ev) in PAYMENT_TRANSITIONS if ev == event]


def payment_target(current: PaymentStatus, event: PaymentEvent) -> PaymentStatus:
    try:
        return PAYMENT_TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(f"发放记录状态为“{current.value}”，不能执行此操作") from None


def lock_batch(batch: PaymentBatch) -> PaymentBatch:
    """Serialise changes to one batch (PostgreSQL row lock; SQLite writers are serialised by
    BEGIN IMMEDIATE already) and re-read its status under the lock."""
    db.session.execute(sa.select(PaymentBatch.id).where(PaymentBatch.id == batch.id).with_for_update())
    db.session.refresh(batch)
    return batch


def apply_bank_results(results: list[dict]) -> None:
    """Each dict: the payment (`payment`), its `event` (bank_paid / bank_failed) and the columns
    the result sets. One executemany by primary key; the table is checked for every row first."""
    updates = []
    for r in results:
        p, event = r.pop("payment"), r.pop("event")
        updates.append({"id": p.id, "status": payment_target(p.status, event), **r})
    for i in range(0, len(updates), 500):
        db.session.execute(sa.update(Payment), updates[i:i + 500])


def cancel_payments(batch: PaymentBatch, now: datetime) -> int:
    event = PaymentEvent.batch_cancelled
    return db.session.execute(
        sa.update(Payment).where(Payment.batch_id == batch.id, Payment.status.in_(payment_sources(event)))
        .values(status=PAYMENT_TRANSITIONS[(P.pending, event)], result_at=now)
        .execution_options(synchronize_session=False)).rowcount


def move_batch(batch: PaymentBatch, event: BatchEvent, now: datetime, **fields) -> None:
    try:
        batch.status = BATCH_TRANSITIONS[(batch.status, event)]
    except KeyError:
        raise InvalidTransition(f"批次{batch.status_label}，不能执行此操作") from None
    if event is BatchEvent.settle:
        batch.settled_at = now
    else:
        batch.cancelled_at = now
    for name, value in fields.items():
        setattr(batch, name, value)
    db.session.flush()

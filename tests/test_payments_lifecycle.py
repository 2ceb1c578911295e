"""The payment and batch state machines (subsidy/payments/lifecycle.py) are the only place
their statuses change."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from subsidy.errors import InvalidTransition
from subsidy.payments import lifecycle
from subsidy.payments.lifecycle import BATCHES, PAYMENTS, BatchEvent, PaymentEvent
from subsidy.payments.models import BatchStatus, PaymentBatch, PaymentStatus

P, B = PaymentStatus, BatchStatus
PACKAGE = Path(__file__).resolve().parent.parent / "subsidy"


@pytest.mark.parametrize("current", list(PaymentStatus))
@pytest.mark.parametrize("event", list(PaymentEvent))
def test_every_payment_status_and_event(current, event):
    expected = {(P.pending, PaymentEvent.bank_paid): P.paid, (P.pending, PaymentEvent.bank_failed): P.failed,
                (P.pending, PaymentEvent.batch_cancelled): P.cancelled,
                (P.pending, PaymentEvent.hold_cancelled): P.cancelled}.get((current, event))
    if expected is None:
        with pytest.raises(InvalidTransition):
            PAYMENTS.check(current, event, internal=True)
    else:
        assert PAYMENTS.check(current, event, internal=True).target_from(current) is expected
        # a bank result is the result import's, never a page's or the API's
        with pytest.raises(InvalidTransition):
            PAYMENTS.check(current, event)


def test_only_pending_payments_are_sources():
    assert {s for e in PaymentEvent for s in PAYMENTS.sources(e)} == {P.pending}


@pytest.mark.parametrize("current", list(BatchStatus))
@pytest.mark.parametrize("event", list(BatchEvent))
def test_every_batch_status_and_event(app, current, event):
    batch = PaymentBatch(status=current)
    expected = {(B.open, BatchEvent.settle): B.settled, (B.open, BatchEvent.cancel): B.cancelled}.get((current, event))
    with app.app_context():
        if expected is None:
            with pytest.raises(InvalidTransition):
                lifecycle.move_batch(batch, event, now=None)
            assert batch.status is current
        else:
            assert BATCHES.check(current, event, internal=True).target_from(current) is expected


# A status written anywhere but the table: an assignment, keyword or dict key naming a status.
WRITE = re.compile(r"(\.status\s*(,[^=]*)?=[^=]|\bstatus\s*=\s*(P|B|PaymentStatus|BatchStatus)\.|"
                   r"[\"']status[\"']\s*:\s*(P|B|PaymentStatus|BatchStatus)\.)")


def test_no_code_outside_the_table_writes_a_payment_or_batch_status():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "lifecycle.py" and path.parent.name == "payments":
            continue
        text = path.read_text(encoding="utf-8")
        if "PaymentStatus" not in text and "BatchStatus" not in text:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if WRITE.search(line) and re.search(r"\b(P|B|PaymentStatus|BatchStatus)\.\w+", line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert not offenders, "status changed outside subsidy/payments/lifecycle.py:\n" + "\n".join(offenders)


def test_the_check_above_sees_a_write():
    assert WRITE.search("batch.status, batch.settled_at = BatchStatus.settled, now")
    assert WRITE.search('updates.append({"id": p.id, "status": P.paid})')
    assert WRITE.search(".values(status=P.cancelled, result_at=now)")
    assert not WRITE.search("if p.status == P.pending:")

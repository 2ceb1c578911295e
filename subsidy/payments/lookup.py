"""What the farmers' "my subsidies" page learns about each entry's money.

Per entry: the paid payment if there is one, else the latest one not cancelled, which the page
reads only when it failed (the bank refused and nothing newer is pending); a payment still
waiting for the bank says nothing yet. A paid one also carries its id and the farmer's receipt
answer, for the 我已收到 / 没有收到 buttons.

The page runs on every view of a farmer's phone, so the payment is joined into the query of
the household's entries (`join_shown_payment`) rather than fetched in a second round trip."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.payments.models import Payment, PaymentStatus

P = PaymentStatus


@dataclass
class PaymentView:
    """What this area tells "my subsidies" about one entry's money."""

    status: str                   # "paid" or "failed"
    at: datetime | None = None    # when paid (or when the bank refused)
    account: str | None = None    # the account it went to
    reason: str | None = None     # the bank's reason for a failure
    payment_id: int | None = None  # a paid payment, which the farmer can confirm or deny receiving
    receipt: str | None = None     # their answer so far: "confirmed", "denied" or None


_SHOWN = aliased(Payment, name="shown_payment")
# The columns `join_shown_payment` adds, in the order `payment_view` takes them.
SHOWN_COLUMNS = (_SHOWN.id, _SHOWN.status, _SHOWN.result_at, _SHOWN.payout_account, _SHOWN.failure_reason,
                 _SHOWN.receipt)


def _shown_payment_id(entry_id):
    """The payment a farmer hears about: the first paid one, else the newest not cancelled."""
    paid = Payment.status == P.paid
    return (sa.select(Payment.id).where(Payment.entry_id == entry_id, Payment.status != P.cancelled)
            .order_by(sa.case((paid, 0), else_=1), sa.case((paid, Payment.id), else_=-Payment.id))
            .limit(1).correlate_except(Payment).scalar_subquery())


def join_shown_payment(stmt, entry_id):
    """`stmt` with each entry's shown payment outer-joined (one index probe per entry) and
    `SHOWN_COLUMNS` added at the end of its columns."""
    return stmt.outerjoin(_SHOWN, _SHOWN.id == _shown_payment_id(entry_id)).add_columns(*SHOWN_COLUMNS)


def payment_view(payment_id, status, at, account, reason, receipt) -> PaymentView | None:
    """The view of a row's `SHOWN_COLUMNS`: None when there is no payment or it is pending."""
    if status == P.paid:
        return PaymentView("paid", at, account, payment_id=payment_id, receipt=receipt.value if receipt else None)
    if status == P.failed:
        return PaymentView("failed", at, account, reason)
    return None

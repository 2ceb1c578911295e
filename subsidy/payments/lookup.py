"""What the farmers' "my subsidies" page learns about each entry's money (issue 6 hook).

Registered with `subsidy.public.service.register_payment_lookup` when the payments pages load.
Per entry: the paid payment if there is one, else the latest failed one (the bank refused and
nothing newer is pending); a payment still waiting for the bank says nothing yet. A paid one
also carries its id and the farmer's receipt answer, for the 我已收到 / 没有收到 buttons."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.payments.models import Payment, PaymentStatus

P = PaymentStatus


# Columns, not Payment objects, in a statement built once: this runs on every view of a
# farmer's "my subsidies".
_PAYMENTS_OF_ENTRIES = (
    sa.select(Payment.entry_id, Payment.id, Payment.status, Payment.result_at, Payment.payout_account,
              Payment.failure_reason, Payment.receipt)
    .where(Payment.entry_id.in_(sa.bindparam("entry_ids", expanding=True)), Payment.status != P.cancelled)
    .order_by(Payment.id))


def payment_views(entry_ids: list[int]) -> dict:
    from subsidy.public.service import PaymentView

    out: dict[int, PaymentView] = {}
    latest: dict[int, sa.Row] = {}
    for i in range(0, len(entry_ids), 1000):
        for p in db.session.execute(_PAYMENTS_OF_ENTRIES, {"entry_ids": entry_ids[i:i + 1000]}):
            if latest.get(p.entry_id) is None or latest[p.entry_id].status != P.paid:
                latest[p.entry_id] = p
    for entry_id, p in latest.items():
        if p.status == P.paid:
            out[entry_id] = PaymentView("paid", p.result_at, p.payout_account, payment_id=p.id,
                                        receipt=p.receipt.value if p.receipt else None)
        elif p.status == P.failed:
            out[entry_id] = PaymentView("failed", p.result_at, p.payout_account, p.failure_reason)
    return out

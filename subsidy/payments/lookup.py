"""What the farmers' "my subsidies" page learns about each entry's money (issue 6 hook).

Registered with `subsidy.public.service.register_payment_lookup` when the payments pages load.
Per entry: the paid payment if there is one, else the latest failed one (the bank refused and
nothing newer is pending); a payment still waiting for the bank says nothing yet."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.payments.models import Payment, PaymentStatus

P = PaymentStatus


def payment_views(entry_ids: list[int]) -> dict:
    from subsidy.public.service import PaymentView

    out: dict[int, PaymentView] = {}
    latest: dict[int, Payment] = {}
    for i in range(0, len(entry_ids), 1000):
        for p in db.session.scalars(sa.select(Payment).where(Payment.entry_id.in_(entry_ids[i:i + 1000]),
                                                             Payment.status != P.cancelled).order_by(Payment.id)):
            if latest.get(p.entry_id) is None or latest[p.entry_id].status != P.paid:
                latest[p.entry_id] = p
    for entry_id, p in latest.items():
        if p.status == P.paid:
            out[entry_id] = PaymentView("paid", p.result_at, p.payout_account)
        elif p.status == P.failed:
            out[entry_id] = PaymentView("failed", p.result_at, p.payout_account, p.failure_reason)
    return out

"""Shared set-up for the payment tests: a county-approved filing, the bank's result file, and
the look-ups the tests repeat."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.filings.models import FilingState
from subsidy.notify.models import Message
from subsidy.payments.models import Payment
from tests.factories import make_xlsx
from tests.filings_support import T0, make_world, walk_to

RESULT_HEADERS = ["交易流水号", "状态", "失败原因", "银行流水号", "金额"]
PAID_AT = T0 + timedelta(days=20)


def approved_world(n=5, with_clerk_phone=True, **project_kw):
    """A county-approved filing of `n` households, the village clerk with a mobile number."""
    project_kw.setdefault("rate", Decimal("105.00"))
    w = make_world(n, **project_kw)
    if with_clerk_phone:
        w.clerk.phone = "13900000001"
    walk_to(w, FilingState.county_approved)
    db.session.commit()
    return w


def bank_file(rows, total=None, kind="xlsx"):
    """A result file: rows of (disbursement id, 成功/失败, reason, bank ref, amount); `total`
    adds a 合计 row (True: the sum of the rows)."""
    data = [list(r) for r in rows]
    if total is not None:
        s = sum(Decimal(str(r[4])) for r in rows) if total is True else Decimal(str(total))
        data.append(["合计", f"{len(rows)}笔", "", "", str(s)])
    if kind == "xlsx":
        return make_xlsx(RESULT_HEADERS, data), "回盘.xlsx"
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(RESULT_HEADERS)
    w.writerows(data)
    return io.BytesIO(text.getvalue().encode("gb18030")), "回盘.csv"


def post_results(client, batch_id, rows, total=True, kind="xlsx", data: bytes | None = None):
    stream, name = bank_file(rows, total, kind)
    if data is not None:  # the very same bytes again (an .xlsx written twice differs in its zip dates)
        stream = io.BytesIO(data)
    return client.post(f"/api/v1/payments/batches/{batch_id}/results", data={"file": (stream, name)},
                       content_type="multipart/form-data")


def payments_of(batch_id):
    return db.session.scalars(sa.select(Payment).where(Payment.batch_id == batch_id).order_by(Payment.seq)).all()


def messages(template):
    return db.session.scalars(sa.select(Message).where(Message.template == template).order_by(Message.id)).all()

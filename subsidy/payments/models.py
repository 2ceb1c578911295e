"""Disbursement (发放): payment batches, payments, the bank's result files, receipt checks.

docs/design.md "Payments". Rules that can live in the schema live there:

- a disbursement id (交易流水号) is unique across the platform;
- an entry has at most one *live* payment (pending or paid): a partial unique index, so an
  entry can be neither in two open batches nor paid twice, whatever the code above it does;
- a payment's amount is positive, its sequence unique in its batch.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.projects.models import Project


class BatchStatus(Labelled):
    open = "open", _l("待回盘")  # created (and exported): waiting for the bank's results
    settled = "settled", _l("已回盘")  # every payment has a result, paid or failed
    cancelled = "cancelled", _l("已作废")  # withdrawn before any result arrived



class PaymentStatus(Labelled):
    pending = "pending", _l("待回盘")  # in an open batch, no result yet
    paid = "paid", _l("已发放")  # the bank says 成功
    failed = "failed", _l("发放失败")  # the bank says 失败, with its reason
    cancelled = "cancelled", _l("已作废")  # its batch was withdrawn before the bank paid anything


LIVE_STATUSES = ("pending", "paid")  # at most one live payment per entry (partial unique index)


class ReceiptAnswer(Labelled):
    confirmed = "confirmed", _l("已确认收到")  # 我已收到
    denied = "denied", _l("反映没有收到")  # 没有收到



class PaymentBatch(db.Model):
    """One bank file: county-approved entries of one project, each with its disbursement id."""

    __tablename__ = "payment_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    status: Mapped[BatchStatus] = mapped_column(enum_column(BatchStatus), default=BatchStatus.open)
    reissue: Mapped[bool] = mapped_column(default=False)  # a batch of re-issued failures
    payment_count: Mapped[int] = mapped_column(default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    exported_at: Mapped[datetime | None]
    export_count: Mapped[int] = mapped_column(default=0)
    settled_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))

    project: Mapped[Project] = relationship(lazy="joined")

    __table_args__ = (sa.CheckConstraint("payment_count >= 0", name="payment_count_non_negative"),)

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def code(self) -> str:
        """The batch number people quote: 发放批次 PC000012."""
        return f"PC{self.id:06d}"


class Payment(db.Model):
    """One entry's money in one batch. Name, ID number, account and amount are copied when the
    batch is made: the bank pays what the file says, whatever the register says later."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_batches.id"), index=True)
    seq: Mapped[int]
    disbursement_id: Mapped[str] = mapped_column(sa.String(32), unique=True)  # 交易流水号
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_entries.id"))
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"))  # see ix_payments_filing_status
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))  # the village, for scope and GROUP BY
    head_name: Mapped[str] = mapped_column(sa.String(40))
    id_number: Mapped[str] = mapped_column(sa.String(18))
    payout_account: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus), default=PaymentStatus.pending)
    bank_ref: Mapped[str | None] = mapped_column(sa.String(64))        # 银行流水号
    failure_reason: Mapped[str | None] = mapped_column(sa.String(255))  # the bank's words
    result_at: Mapped[datetime | None]
    result_import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment_result_imports.id"))
    reissue_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    # 1 for an entry's money as first approved; 2, 3 … for what a correction added (补发: only
    # the difference is paid). One live payment per entry and part.
    part: Mapped[int] = mapped_column(default=1)
    receipt: Mapped[ReceiptAnswer | None] = mapped_column(enum_column(ReceiptAnswer))
    receipt_at: Mapped[datetime | None]
    receipt_case_id: Mapped[int | None]  # the complaint a 没有收到 opened (cases arrive in their own migration)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    batch: Mapped[PaymentBatch] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("batch_id", "seq", name="uq_payments_batch_seq"),
        sa.UniqueConstraint("batch_id", "entry_id", name="uq_payments_batch_entry"),
        # The rule of the whole area: one live (pending or paid) payment per entry and part.
        sa.Index("uq_payments_entry_live", "entry_id", "part", unique=True,
                 sqlite_where=sa.text("status IN ('pending', 'paid')"),
                 postgresql_where=sa.text("status IN ('pending', 'paid')")),
        sa.Index("ix_payments_region_status", "region_code", "status"),
        sa.Index("ix_payments_filing_status", "filing_id", "status"),
        sa.Index("ix_payments_entry", "entry_id"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("seq >= 1 AND seq <= 999999", name="seq_range"),
        sa.CheckConstraint("part >= 1", name="part_positive"),
    )

    @property
    def status_label(self) -> str:
        return self.status.label


class ResultImport(db.Model):
    """One bank result file (回盘) as it was received and what became of it."""

    __tablename__ = "payment_result_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_batches.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(200), default="")
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    rows: Mapped[int] = mapped_column(default=0)
    refused: Mapped[bool] = mapped_column(default=False)  # the whole file was refused: nothing applied
    paid: Mapped[int] = mapped_column(default=0)          # rows applied as paid
    failed: Mapped[int] = mapped_column(default=0)        # rows applied as failed
    unchanged: Mapped[int] = mapped_column(default=0)     # rows that repeat a result already recorded
    problems: Mapped[int] = mapped_column(default=0)      # rows reported and not applied
    report: Mapped[str] = mapped_column(sa.Text, default="{}")  # JSON: the reconciliation report
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class ReceiptSample(db.Model):
    """A receipt check (回访) drawn at random among the paid payments of a project. The seed and
    the population's size are kept, so the same draw can be made again and checked."""

    __tablename__ = "receipt_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))  # the region the sample was drawn in
    size: Mapped[int]
    population: Mapped[int]
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    project: Mapped[Project] = relationship(lazy="joined")

    __table_args__ = (sa.CheckConstraint("size >= 1", name="size_positive"),)


class ReceiptSampleMember(db.Model):
    __tablename__ = "receipt_sample_members"

    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("receipt_samples.id", ondelete="CASCADE"), primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), primary_key=True, index=True)

"""追回 and 核销 (docs/design.md "Supervision with consequences").

Rules the schema can keep, it keeps: a recovery's amount is positive and what was recovered
never exceeds it; a write-off concerns exactly one payment or one recovery, at most one
write-off each; the person who approves a write-off is not the one who proposed it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class RecoveryState(Labelled):
    open = "open", _l("待追回")
    recovered = "recovered", _l("已追回")
    written_off = "written_off", _l("已核销")


class RepaymentMethod(Labelled):
    cash = "cash", _l("现金缴回")
    card_deduction = "card_deduction", _l("一卡通扣回")
    other = "other", _l("其他")


class WriteOffKind(Labelled):
    payment = "payment", _l("发放失败核销")
    recovery = "recovery", _l("追回核销")
    material = "material", _l("实物核销")  # goods a household will never collect (moved, refused, died)


class WriteOffState(Labelled):
    proposed = "proposed", _l("待审批")
    approved = "approved", _l("已核销")


class Recovery(db.Model):
    """Money a household must give back: created by hand by the county reviewer or by a
    correction that removed or reduced a paid entry."""

    __tablename__ = "recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))  # the household's village, for scope and counts
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("filing_entries.id"), index=True)
    filing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    amount_due: Mapped[Decimal] = mapped_column(Money)
    amount_recovered: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    state: Mapped[RecoveryState] = mapped_column(enum_column(RecoveryState), default=RecoveryState.open)
    reason: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(20), default="manual")  # manual | correction
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        sa.CheckConstraint("amount_due > 0", name="amount_due_positive"),
        sa.CheckConstraint("amount_recovered >= 0 AND amount_recovered <= amount_due", name="recovered_within_due"),
    )

    @property
    def balance(self) -> Decimal:
        return self.amount_due - self.amount_recovered


class Repayment(db.Model):
    """One sum paid back, as the county recorded it (a receipt number it can show)."""

    __tablename__ = "repayments"

    id: Mapped[int] = mapped_column(primary_key=True)
    recovery_id: Mapped[int] = mapped_column(sa.ForeignKey("recoveries.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date]
    receipt_no: Mapped[str] = mapped_column(sa.String(60))
    method: Mapped[RepaymentMethod] = mapped_column(enum_column(RepaymentMethod))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (sa.CheckConstraint("amount > 0", name="amount_positive"),)


class WriteOff(db.Model):
    """核销: a payment that failed for good, a recovery that cannot be collected, or goods a
    household will never collect, written off by two people."""

    __tablename__ = "write_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[WriteOffKind] = mapped_column(enum_column(WriteOffKind))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), unique=True)
    recovery_id: Mapped[int | None] = mapped_column(sa.ForeignKey("recoveries.id"), unique=True)
    entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("filing_entries.id"), index=True)
    county_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))
    amount: Mapped[Decimal] = mapped_column(Money)  # a material write-off: the goods' value (0 without a price)
    quantity: Mapped[Decimal | None] = mapped_column(sa.Numeric(14, 2))  # goods written off (kind material)
    reason: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[WriteOffState] = mapped_column(enum_column(WriteOffState), default=WriteOffState.proposed)
    proposed_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]

    __table_args__ = (
        sa.CheckConstraint("(kind = 'payment') = (payment_id IS NOT NULL)", name="payment_kind_has_payment"),
        sa.CheckConstraint("(kind = 'recovery') = (recovery_id IS NOT NULL)", name="recovery_kind_has_recovery"),
        sa.CheckConstraint("approved_by IS NULL OR approved_by <> proposed_by", name="two_people"),
        sa.CheckConstraint("(state = 'approved') = (approved_by IS NOT NULL)", name="approved_has_approver"),
        sa.CheckConstraint("amount > 0 OR (kind = 'material' AND amount = 0)", name="amount_positive"),
        sa.CheckConstraint("(kind = 'material') = (quantity IS NOT NULL AND entry_id IS NOT NULL)",
                           name="material_kind_has_goods"),
        sa.CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
        # One write-off of an entry's goods, whatever runs at once.
        sa.Index("uq_write_offs_material_entry", "entry_id", unique=True, sqlite_where=sa.text("kind = 'material'"),
                 postgresql_where=sa.text("kind = 'material'")),
    )

"""实物补贴: what a township received into its store for a project, and what each household
picked up and signed for (docs/design.md "Material subsidies")."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.payments.models import ReceiptAnswer

Quantity = sa.Numeric(14, 2)


class Receiver(Labelled):
    self = "self", _l("本人领取")
    proxy = "proxy", _l("代领")


class DistributionState(Labelled):
    """Derived, never stored: how much of an entry's goods were picked up."""
    waiting = "waiting", _l("待领取")
    partly = "partly", _l("部分领取")
    done = "done", _l("已领取")
    written_off = "written_off", _l("已核销")


class MaterialReceipt(db.Model):
    """入库: goods of a project delivered into a township's store."""

    __tablename__ = "material_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    township_code: Mapped[str] = mapped_column(sa.String(9))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    received_on: Mapped[date]
    supplier: Mapped[str] = mapped_column(sa.String(60), default="")
    document_no: Mapped[str] = mapped_column(sa.String(60), default="")
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_material_receipts_project_township", "project_id", "township_code"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class MaterialPickup(db.Model):
    """领取签收: goods a household (or someone for it) took from the township's store."""

    __tablename__ = "material_pickups"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_entries.id"), index=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    township_code: Mapped[str] = mapped_column(sa.String(9))
    region_code: Mapped[str] = mapped_column(sa.String(12))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    received_on: Mapped[date]
    receiver: Mapped[Receiver] = mapped_column(enum_column(Receiver))
    proxy_name: Mapped[str | None] = mapped_column(sa.String(30))
    proxy_relation: Mapped[str | None] = mapped_column(sa.String(20))
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The farmer's own word on the pickup, on /m/me: 我已领取 or 没有领到 (which opens a
    # complaint for the county, `receipt_case_id`).
    receipt: Mapped[ReceiptAnswer | None] = mapped_column(enum_column(ReceiptAnswer))
    receipt_at: Mapped[datetime | None]
    receipt_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))

    __table_args__ = (
        sa.Index("ix_material_pickups_project_township", "project_id", "township_code"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("receiver = 'self' OR (proxy_name IS NOT NULL AND proxy_relation IS NOT NULL)",
                           name="proxy_named"),
    )


class MaterialList(db.Model):
    """The village's distribution list of a material filing: where and between which days its
    households collect their goods (领取地点和时间), told to them by SMS."""

    __tablename__ = "material_lists"

    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), primary_key=True)
    place: Mapped[str] = mapped_column(sa.String(60))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    # Each change after the county's approval tells the households still waiting again; the
    # revision keys that SMS so a retry never sends it twice.
    revision: Mapped[int] = mapped_column(default=1)
    set_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)

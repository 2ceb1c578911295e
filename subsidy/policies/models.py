"""Benefit policies (惠民政策) and their attachments."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.models import Region


class PolicyStatus(Labelled):
    draft = "draft", _l("草稿")  # the county admin writes and previews it; farmers never see it
    published = "published", _l("已发布")  # on the mobile pages of every household it applies to
    withdrawn = "withdrawn", _l("已撤回")  # 废止: taken down with a reason; final (write a new one to replace it)



class PolicyAction(Labelled):
    """What the county admin does to a policy (the rows of `subsidy.policies.service.MACHINE`)."""

    edit = "edit", _l("修改")  # a draft's text, region, dates and attachments
    publish = "publish", _l("发布")
    withdraw = "withdraw", _l("撤回")


class PolicyCategory(Labelled):
    planting = "planting", _l("种植补贴")
    livestock = "livestock", _l("养殖补贴")
    machinery = "machinery", _l("农机购置补贴")
    insurance = "insurance", _l("农业保险")
    social = "social", _l("社会保障")
    housing = "housing", _l("危房改造")
    revitalization = "revitalization", _l("乡村振兴")
    other = "other", _l("其他")



class Policy(db.Model):
    """A policy as the county publishes it. `region_code` is the region it applies to (the
    county, a township or a village); `county_code` is the county that wrote it."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)                         # Markdown
    interpretation: Mapped[str] = mapped_column(sa.Text, default="")   # 政策解读, Markdown
    category: Mapped[PolicyCategory] = mapped_column(enum_column(PolicyCategory), default=PolicyCategory.other)
    effective_from: Mapped[date | None] = mapped_column(sa.Date)
    effective_to: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[PolicyStatus] = mapped_column(enum_column(PolicyStatus), default=PolicyStatus.draft)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)

    region: Mapped[Region] = relationship(foreign_keys=[region_code], lazy="joined")
    attachments: Mapped[list[PolicyAttachment]] = relationship(
        back_populates="policy", order_by="PolicyAttachment.id", cascade="all, delete-orphan")

    __table_args__ = (
        sa.Index("ix_policies_status_published", "status", "published_at"),
        sa.CheckConstraint("effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
                           name="effective_range"),
        sa.CheckConstraint("status = 'draft' OR published_at IS NOT NULL", name="published_has_date"),
        sa.CheckConstraint("status <> 'withdrawn' OR withdrawn_reason IS NOT NULL", name="withdrawn_has_reason"),
    )

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def category_label(self) -> str:
        return self.category.label


class PolicyAttachment(db.Model):
    """A PDF or image of the official document. The file lives under instance/uploads with a
    random name (`stored_name`); the name the admin uploaded is only ever displayed."""

    __tablename__ = "policy_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    policy: Mapped[Policy] = relationship(back_populates="attachments")

    __table_args__ = (sa.CheckConstraint("size > 0", name="size_positive"),)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

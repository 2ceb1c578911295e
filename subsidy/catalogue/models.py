from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.projects.models import Unit

CODE_PATTERN = r"^[a-z0-9_]{2,20}$"


class SubsidyType(db.Model):
    """One entry of a prefecture's catalogue: what a county's project is an instance of
    (耕地地力保护补贴 per 亩, 基础母牛养殖补贴 per head, …). `code` is the stable key the API and
    other systems use; `unit` is the unit every project of the type pays by, so that amounts of
    different counties add up."""

    __tablename__ = "subsidy_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))
    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(40))
    unit: Mapped[Unit] = mapped_column(enum_column(Unit))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("prefecture_code", "code", name="uq_subsidy_types_prefecture_code"),
        sa.UniqueConstraint("prefecture_code", "name", name="uq_subsidy_types_prefecture_name"),
        sa.CheckConstraint("length(prefecture_code) = 4", name="owned_by_a_prefecture"),
    )

    @property
    def unit_label(self) -> str:
        return self.unit.label

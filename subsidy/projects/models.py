from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.model_base import Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class Category(enum.Enum):
    cash = "cash"          # money paid to the 一卡通 account
    material = "material"  # goods handed out (e.g. 地膜), valued at the rate


class Unit(enum.Enum):
    household = "household"
    mu = "mu"
    head = "head"
    person = "person"
    item = "item"


CATEGORY_LABEL = {Category.cash: "现金补贴", Category.material: "实物补贴"}
UNIT_LABEL = {Unit.household: "户", Unit.mu: "亩", Unit.head: "头", Unit.person: "人", Unit.item: "件"}


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    year: Mapped[int]
    category: Mapped[Category] = mapped_column(enum_column(Category))
    unit: Mapped[Unit] = mapped_column(enum_column(Unit))
    rate: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    budget: Mapped[Decimal] = mapped_column(Money)
    publicity_days: Mapped[int] = mapped_column(default=7)
    fund_source: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("county_code", "year", "name", name="uq_projects_county_year_name"),
        sa.CheckConstraint("rate > 0", name="rate_positive"),
        sa.CheckConstraint("budget >= 0", name="budget_non_negative"),
        sa.CheckConstraint("publicity_days >= 1 AND publicity_days <= 60", name="publicity_days_range"),
        sa.CheckConstraint("year >= 2000 AND year <= 2100", name="year_range"),
    )

    @property
    def unit_label(self) -> str:
        return UNIT_LABEL[self.unit]

    @property
    def category_label(self) -> str:
        return CATEGORY_LABEL[self.category]

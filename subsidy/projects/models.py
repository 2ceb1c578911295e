from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class Category(Labelled):
    cash = "cash", _l("现金补贴")  # money paid to the 一卡通 account
    material = "material", _l("实物补贴")  # goods handed out (e.g. 地膜), valued at the rate


class Unit(Labelled):
    household = "household", _l("户")
    mu = "mu", _l("亩")
    head = "head", _l("头")
    person = "person", _l("人")
    item = "item", _l("件")



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
    # 实物补贴 (docs/design.md "Material subsidies"): the goods, their unit and price; `rate` is
    # then the quantity of the item per unit of entitlement.
    item: Mapped[str | None] = mapped_column(sa.String(20))
    item_unit: Mapped[str | None] = mapped_column(sa.String(10))
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("county_code", "year", "name", name="uq_projects_county_year_name"),
        sa.CheckConstraint("rate > 0", name="rate_positive"),
        sa.CheckConstraint("budget >= 0", name="budget_non_negative"),
        sa.CheckConstraint("publicity_days >= 1 AND publicity_days <= 60", name="publicity_days_range"),
        sa.CheckConstraint("year >= 2000 AND year <= 2100", name="year_range"),
        sa.CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price_non_negative"),
    )

    @property
    def is_material(self) -> bool:
        return self.category == Category.material

    @property
    def unit_label(self) -> str:
        return self.unit.label

    @property
    def category_label(self) -> str:
        return self.category.label

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db

if TYPE_CHECKING:
    from subsidy.catalogue.models import SubsidyType


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
    # The city's catalogue entry this project is an instance of, optional: a county without a
    # city has no catalogue (docs/design.md "Subsidy catalogue").
    subsidy_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("subsidy_types.id"))

    catalogue_type: Mapped[SubsidyType | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("county_code", "year", "name", name="uq_projects_county_year_name"),
        # Projects of one type and year across the counties (cross-county checks, figures by type).
        sa.Index("ix_projects_subsidy_type_year", "subsidy_type_id", "year"),
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
    def subsidy_type(self) -> str | None:
        """The catalogue code (what the API reads and writes)."""
        return self.catalogue_type.code if self.catalogue_type else None

    @property
    def subsidy_type_name(self) -> str:
        return self.catalogue_type.name if self.catalogue_type else ""

    @property
    def unit_label(self) -> str:
        return self.unit.label

    @property
    def category_label(self) -> str:
        return self.category.label

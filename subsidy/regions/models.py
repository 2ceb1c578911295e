from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.extensions import db


class Level(Labelled):
    # Top-down: code order, tier comparisons and the docs' tables read the members in this order.
    province = "province", _l("省")
    prefecture = "prefecture", _l("市")
    county = "county", _l("县")
    township = "township", _l("乡镇")
    village = "village", _l("村")


# Significant digits of a code at each level (docs/design.md "Jurisdiction").
CODE_LENGTH = {Level.province: 2, Level.prefecture: 4, Level.county: 6, Level.township: 9, Level.village: 12}


class Region(db.Model):
    """A province, prefecture, county, township or village. `code` is the official code in its
    short form: 64 (province), 6404 (prefecture), 640425 (county), 640425101 (township),
    640425101201 (village); see `regions.scope`."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    level: Mapped[Level] = mapped_column(enum_column(Level))
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    # The township's service phone is printed on notices ("where to object").
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    # A county's (or the city's) SMS signature, e.g. 【彭阳县惠农】.
    sms_signature: Mapped[str | None] = mapped_column(sa.String(20))

    parent: Mapped[Region | None] = relationship(remote_side=[code], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent", order_by="Region.code")

    __table_args__ = (
        sa.CheckConstraint(
            "(level = 'province' AND length(code) = 2) OR (level = 'prefecture' AND length(code) = 4)"
            " OR (level = 'county' AND length(code) = 6) OR (level = 'township' AND length(code) = 9)"
            " OR (level = 'village' AND length(code) = 12)",
            name="code_length_matches_level",
        ),
    )

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.model_base import Area
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.models import Region


class Household(db.Model):
    """A farming household, registered in one village under its head's ID number."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))  # indexed below
    head_name: Mapped[str] = mapped_column(sa.String(40))
    # GB 11643 citizen ID, 18 characters, upper-case X; unique across the platform.
    id_number: Mapped[str] = mapped_column(sa.String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(11), index=True)  # mainland mobile, 11 digits
    payout_account: Mapped[str | None] = mapped_column(sa.String(32), index=True)  # 一卡通
    members: Mapped[int] = mapped_column(default=1)
    land_area_mu: Mapped[Decimal] = mapped_column(Area, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("members >= 1", name="members_positive"),
        sa.CheckConstraint("land_area_mu >= 0", name="land_area_non_negative"),
        sa.Index("ix_households_region_name", "region_code", "head_name"),
        # Households of a region with their ids from the index alone (mobile coverage joins
        # mobile_sign_ins on the id; stats at province scale).
        sa.Index("ix_households_region_id", "region_code", "id"),
    )

    # Set by the service that saved the household (households.service.contact_warnings): a
    # phone or account that other households of the county use too. Not stored.
    contact_warnings: tuple[str, ...] | list[str] = ()

    @property
    def warnings(self) -> list[str]:
        """What the register accepts but a clerk should look at again (e.g. an ID number issued
        under a code younger than its holder, after a renumbering; a phone another household uses)."""
        from subsidy.households.validation import id_number_warning

        warning = id_number_warning(self.id_number)
        return ([warning] if warning else []) + list(self.contact_warnings)


class HouseholdMove(db.Model):
    """One 迁户: the household left `from_region` (a village) for `to_region`. Written by the
    transfer with its audit events (docs/design.md "Household register"); read to let a county
    the household passed through open its file after it left (`households.moves`), indexed on
    each side for that lookup, so the audit log is never parsed to answer a page."""

    __tablename__ = "household_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    from_region: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    to_region: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    moved_at: Mapped[datetime] = mapped_column(default=utcnow)
    moved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # NULL: the shell or a backfill
    reason: Mapped[str] = mapped_column(sa.String(200))

    __table_args__ = (sa.CheckConstraint("from_region <> to_region", name="moves_somewhere"),)

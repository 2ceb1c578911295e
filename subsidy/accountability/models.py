"""Accountability decisions (问责): what the supervisor decided about a person whose work let
the money go wrong (docs/design.md "Supervision with consequences")."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.accounts.models import User
from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.models import Region


class Measure(Labelled):
    """问责方式, from the lightest to the heaviest."""

    reminder_talk = "reminder_talk", _l("谈话提醒")
    criticism = "criticism", _l("批评教育")
    admonishment = "admonishment", _l("诫勉")
    disciplinary = "disciplinary", _l("党纪政务处分")
    judicial = "judicial", _l("移送司法机关")


class AccountabilityDecision(db.Model):
    """One decision as the supervisor recorded it. A decision is a fact with a document number:
    it is never edited nor deleted (no code path does either), so what the county published
    stays what it decided. `region_code` is the person's unit (the county, a township or a
    village) and decides who sees the decision; `case_id` / `filing_id` name what it concerns,
    shown to staff only. `published_at` set: on the county's public page `/m/disclosures`."""

    __tablename__ = "accountability_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    person_name: Mapped[str] = mapped_column(sa.String(40))
    post: Mapped[str] = mapped_column(sa.String(60))
    measure: Mapped[Measure] = mapped_column(enum_column(Measure))
    document_no: Mapped[str] = mapped_column(sa.String(60))
    decided_on: Mapped[date] = mapped_column(sa.Date)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    filing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("filings.id"))
    summary: Mapped[str] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    region: Mapped[Region] = relationship(lazy="joined")
    creator: Mapped[User] = relationship()

    @property
    def measure_label(self) -> str:
        return self.measure.label

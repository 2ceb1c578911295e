"""A refreshed summary for figures too slow to compute on every view; the weights of the
city's assessment (考核)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class StatsCache(db.Model):
    """The last slow computation of a summary or dashboard for (region, year), with its time.
    Only computations slower than STATS_SLOW_SECONDS are kept; see `subsidy.stats.cache`."""

    __tablename__ = "stats_cache"

    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)  # summary | dashboard
    region_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    payload: Mapped[str] = mapped_column(sa.Text)  # JSON
    computed_at: Mapped[datetime]
    seconds: Mapped[float] = mapped_column(sa.Float)


class Figure(Labelled):
    """A figure the city may score its counties on (考核指标); docs/design.md "Assessment"
    defines each. The value is the key in the API's `weights` and `figures`."""

    completion_rate = "completion_rate", _l("办结率")
    on_time_rate = "on_time_rate", _l("按时办结率")
    notification_rate = "notification_rate", _l("通知率")
    mobile_rate = "mobile_rate", _l("手机端覆盖率")
    filing_timely_rate = "filing_timely_rate", _l("备案及时率")


class AssessmentWeight(db.Model):
    """The weight a city gives one figure in one year's assessment (0: not scored). A year
    without rows takes the latest earlier year's, else the defaults, so changing this year's
    scheme never rescores a year already assessed."""

    __tablename__ = "assessment_weights"

    prefecture_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    figure: Mapped[Figure] = mapped_column(enum_column(Figure), primary_key=True)
    weight: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.CheckConstraint("weight >= 0 AND weight <= 100", name="weight_range"),
        sa.CheckConstraint("year >= 2000 AND year <= 2100", name="year_range"),
        sa.CheckConstraint("length(prefecture_code) = 4", name="of_a_prefecture"),
    )

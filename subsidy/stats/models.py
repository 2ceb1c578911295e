"""A refreshed summary for figures too slow to compute on every view."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

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

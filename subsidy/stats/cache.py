"""Freshness where it costs: a figure computed live unless computing it is slow.

The dashboard and `/stats/summary` are computed live, set-based, on every view — exact the
moment a reviewer approves. Where one computation takes longer than STATS_SLOW_SECONDS (a large
county on SQLite, a province-sized database), its result is kept in `stats_cache` and served
for STATS_CACHE_SECONDS, with the time it was computed ("数据时间") on the page and as `as_of`
in the API; the page's 刷新 button and `flask stats refresh` (for cron) recompute it. A region
whose figures come quickly is never cached, so small regions and tests always see live data.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.stats.models import StatsCache


@dataclass
class Result:
    value: object
    as_of: object
    cached: bool
    seconds: float


def cached(kind: str, code: str, year: int, compute: Callable[[], object], encode: Callable[[object], object],
           decode: Callable[[object], object], *, refresh: bool = False) -> Result:
    max_age = float(current_app.config.get("STATS_CACHE_SECONDS", 600))
    slow = float(current_app.config.get("STATS_SLOW_SECONDS", 1.0))
    if not refresh and max_age > 0:
        row = db.session.get(StatsCache, (kind, code, year))
        if row is not None and utcnow() - row.computed_at < timedelta(seconds=max_age):
            return Result(decode(json.loads(row.payload)), row.computed_at, True, row.seconds)
    started = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - started
    now = utcnow()
    if seconds >= slow or refresh:
        _store(kind, code, year, json.dumps(encode(value), ensure_ascii=False), now, seconds)
    return Result(value, now, False, seconds)


def keep(kind: str, code: str, year: int, payload: object, seconds: float, computed_at=None) -> None:
    """Keep a value computed elsewhere (`flask stats refresh`), already encoded, stamped with
    when its data was read. Not best effort: the refresh is there to keep it, and a database
    error is its to retry (subsidy.common.jobs), not to skip silently."""
    _store(kind, code, year, json.dumps(payload, ensure_ascii=False), computed_at or utcnow(), seconds,
           best_effort=False)


def _store(kind: str, code: str, year: int, payload: str, now, seconds: float, best_effort: bool = True) -> None:
    # Best effort for a page: a cache write that meets a concurrent writer is skipped, never an error page.
    if not best_effort:
        db.session.execute(sa.delete(StatsCache).where(StatsCache.kind == kind, StatsCache.region_code == code,
                                                       StatsCache.year == year))
        db.session.add(StatsCache(kind=kind, region_code=code, year=year, payload=payload, computed_at=now,
                                  seconds=seconds))
        db.session.flush()
        return
    try:
        with db.session.begin_nested():
            db.session.execute(sa.delete(StatsCache).where(StatsCache.kind == kind, StatsCache.region_code == code,
                                                           StatsCache.year == year))
            db.session.add(StatsCache(kind=kind, region_code=code, year=year, payload=payload, computed_at=now,
                                      seconds=seconds))
    except sa.exc.DBAPIError:
        current_app.logger.warning("stats cache write skipped for %s %s %s", kind, code, year)

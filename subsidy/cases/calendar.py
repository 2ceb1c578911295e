"""Working days on China's calendar, per county (docs/design.md "Cases": deadlines in working days).

Which days are working days, for a county:
1. an override row of that county (`WorkCalendarDay`) wins: the county admin's corrections and
   regional holidays (e.g. Ningxia's 开斋节, 古尔邦节);
2. else `chinese_calendar`, which knows the State Council's holidays and 调休 make-up working
   days (e.g. Sunday 2024-02-04 and Sunday 2024-02-18 were working days) for its years;
3. else, in a year the county has marked complete (`WorkCalendarYear`, set by loading that
   year's .xlsx or by the admin's button), Monday to Friday are working days;
4. else the year is not *covered*, and its days are reckoned **provisionally**: the statutory
   holidays of 《全国年节及纪念日放假办法》 (New Year, Spring Festival with its eve, Qingming,
   Labour Day, Dragon Boat, Mid-Autumn, National Day), computed from the lunar calendar by the
   `holidays` library together with the weekdays it gives off when a holiday falls on a
   weekend, are rest days, Monday to Friday otherwise. The State Council's 调休 make-up days
   of such a year are not known yet, so a deadline that reaches into it is marked provisional
   (`Case.due_provisional`, 暂定) and recomputed when the year's calendar is loaded or the
   package learns it (`subsidy.cases.deadlines.recompute_deadlines`).

A case is therefore always taken: no year ever refuses a farmer (the refusal that did, until
the package's last year ran out in December 2026, lost the farmer's typed text with it).

Deadline (定义): a case received on local day D (Asia/Shanghai) with a limit of N working days
is due at 23:59:59 China time on the N-th working day strictly after D (the day of receipt
never counts, whatever the hour), stored as aware UTC. A reply at or before that moment is on
time. Working days to reply count the working days d with D < d <= the day of the reply.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

import chinese_calendar
import holidays
import sqlalchemy as sa

from subsidy.cases.models import WorkCalendarDay, WorkCalendarYear
from subsidy.common.timeutil import CHINA_TZ
from subsidy.errors import Conflict
from subsidy.extensions import db

END_OF_DAY = time(23, 59, 59)
# No run of non-working days is this long; a loop that finds one has a broken override table.
MAX_SCAN_DAYS = 400
# The admin is warned this many days before a year no calendar covers begins.
WARN_AHEAD_DAYS = 60


class Deadline(NamedTuple):
    at: datetime  # aware UTC
    provisional: bool  # reckoned through a year no calendar covers (暂定)


@lru_cache(maxsize=256)
def package_covers(year: int) -> bool:
    """Whether `chinese_calendar` has the State Council's arrangements for `year` (it raises
    NotImplementedError outside its range, e.g. 2004–2026 for version 1.11)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory rest days of `year` as the `holidays` library reckons them from
    《全国年节及纪念日放假办法》 and the lunar calendar, weekend substitutes included, with their
    names; empty for a year the library cannot reckon (then Monday to Friday alone)."""
    try:
        found = holidays.China(years=year, language="zh_CN")
    except (NotImplementedError, ValueError, KeyError):  # outside the library's range
        return {}
    return {day: name for day, name in sorted(found.items()) if day.year == year}


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA_TZ).date()


def end_of_local_day(day: date) -> datetime:
    """23:59:59 China time on `day`, as an aware datetime (stored as UTC)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=CHINA_TZ)


def start_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=CHINA_TZ)


class WorkCalendar:
    """One county's working days. Loads a year's overrides once, on first use, so walking
    a deadline is one query per year touched, not one per day."""

    def __init__(self, county_code: str):
        self.county_code = county_code[:6]
        self._overrides: dict[int, dict[date, bool]] = {}
        self._complete: set[int] | None = None
        self._days: dict[date, bool] = {}

    def complete_years(self) -> set[int]:
        if self._complete is None:
            self._complete = set(db.session.scalars(
                sa.select(WorkCalendarYear.year).where(WorkCalendarYear.county_code == self.county_code)))
        return self._complete

    def covers(self, year: int) -> bool:
        """The year's working days are known for certain (not provisional)."""
        return package_covers(year) or year in self.complete_years()

    def _overrides_of(self, year: int) -> dict[date, bool]:
        if year not in self._overrides:
            rows = db.session.execute(
                sa.select(WorkCalendarDay.day, WorkCalendarDay.is_workday).where(
                    WorkCalendarDay.county_code == self.county_code,
                    WorkCalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
            ).all()
            self._overrides[year] = {day: bool(flag) for day, flag in rows}
        return self._overrides[year]

    def is_workday(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: date) -> bool:
        override = self._overrides_of(day.year).get(day)
        if override is not None:
            return override
        if package_covers(day.year):
            return chinese_calendar.is_workday(day)
        if day.year in self.complete_years():
            return day.weekday() < 5
        return day.weekday() < 5 and day not in statutory_holidays(day.year)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day strictly after `start`."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day, found = start, 0
        for _ in range(MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_workday(day):
                found += 1
                if found == n:
                    return day
        raise Conflict(f"{start.year} 年前后的工作日历中连续 {MAX_SCAN_DAYS} 天没有工作日，请县级管理员检查日历设置",
                       code="calendar_broken")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def reckon(self, clock_from: datetime, days: int) -> Deadline:
        """When a case counted from `clock_from` with a limit of `days` working days is due,
        and whether that rests on a provisional year (any day counted in a year not covered)."""
        start = local_date(clock_from)
        due = self.add_working_days(start, days)
        first = start + timedelta(days=1)
        provisional = any(not self.covers(year) for year in range(first.year, due.year + 1))
        return Deadline(end_of_local_day(due).astimezone(UTC), provisional)

    def deadline(self, clock_from: datetime, days: int) -> datetime:
        return self.reckon(clock_from, days).at


def uncovered_years_ahead(county_code: str, today: date) -> list[int]:
    """Years between today and WARN_AHEAD_DAYS ahead that no calendar covers: the county
    admin is told about these on the cases queue and the calendar page, so that the year's
    calendar is loaded before deadlines in it have to be reckoned provisionally."""
    cal = WorkCalendar(county_code)
    years = sorted({today.year, (today + timedelta(days=WARN_AHEAD_DAYS)).year})
    return [y for y in years if not cal.covers(y)]

"""Completion statistics (办结率, 按时办结率, 满意率): docs/design.md "Cases", docs/api.md `/stats/summary`.

For the cases received in a period (by the China-time day of receipt):
- received   valid cases received (rejected ones — spam — and merged duplicates count nowhere)
- completed  valid cases replied (办结): state replied or closed; a reopened case is open again
- completion_rate    completed ÷ received
- on_time_rate       completed by the deadline (not `completed_late`) ÷ completed
- satisfaction_rate  (满意 + 非常满意) ÷ rated
- overdue_open       open cases past their deadline now
- avg_reply_days     average working days from receipt to reply, over completed cases
Rates are fractions rounded half-up to 3 decimals, None when the denominator is 0.

Every figure is one GROUP BY over the cases table; nothing is counted per case in Python.
`case_summary` groups the cases *concerning* a region (docs/api.md: "everything under region_code");
`unit_table` groups the cases *handled* by the units under a region, by handling unit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.cases.calendar import start_of_local_day
from subsidy.cases.models import SATISFIED, Case, CaseKind
from subsidy.cases.workflow import COMPLETED_STATES, EXCLUDED_STATES, OPEN_STATES
from subsidy.common.params import check_year
from subsidy.common.timeutil import local_today, utcnow
from subsidy.common.xlsx import write_workbook
from subsidy.errors import PermissionDenied
from subsidy.extensions import db
from subsidy.regions.models import Region
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.regions.service import find_region

# Units with fewer valid cases than this are shown but not ranked (too few to compare fairly).
MIN_CASES_TO_RANK = 5
SUMMARY_KEYS = {CaseKind.inquiry: "inquiries", CaseKind.complaint: "complaints", CaseKind.objection: "objections"}
SORT_KEYS = ("code", "received", "completed", "completion_rate", "on_time_rate", "satisfaction_rate", "overdue_open",
             "avg_reply_days")


def rate(numerator: int, denominator: int) -> float | None:
    if not denominator:
        return None
    value = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    return float(value)


def year_period(year: int) -> tuple[datetime, datetime]:
    """[1 January, next 1 January) of `year` in China time, as UTC instants."""
    start = start_of_local_day(date(year, 1, 1)).astimezone(UTC)
    end = start_of_local_day(date(year + 1, 1, 1)).astimezone(UTC)
    return start, end


def _count(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _figures_columns(now: datetime):
    valid = Case.state.not_in(EXCLUDED_STATES)
    completed = Case.state.in_(COMPLETED_STATES)
    return [
        _count(valid).label("received"),
        _count(completed).label("completed"),
        _count(sa.and_(completed, Case.completed_late.is_(False))).label("on_time"),
        _count(sa.and_(valid, Case.rating.in_(SATISFIED))).label("satisfied"),
        _count(sa.and_(valid, Case.rating.is_not(None))).label("rated"),
        _count(sa.and_(Case.state.in_(OPEN_STATES), Case.due_at < now)).label("overdue_open"),
        sa.func.avg(sa.case((completed, Case.reply_working_days), else_=None)).label("avg_reply_days"),
    ]


def _figures(row) -> dict:
    received, completed = int(row.received), int(row.completed)
    avg = row.avg_reply_days
    return {
        "received": received,
        "completed": completed,
        "completion_rate": rate(completed, received),
        "on_time_rate": rate(int(row.on_time), completed),
        "satisfaction_rate": rate(int(row.satisfied), int(row.rated)),
        "overdue_open": int(row.overdue_open),
        "avg_reply_days": None if avg is None else float(Decimal(str(avg)).quantize(Decimal("0.1"), ROUND_HALF_UP)),
    }


_EMPTY = {"received": 0, "completed": 0, "on_time": 0, "satisfied": 0, "rated": 0, "overdue_open": 0,
          "avg_reply_days": None}


class _Row:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def empty_case_summary() -> dict:
    """The blocks of a region without cases."""
    return {key: _figures(_Row(**_EMPTY)) for key in SUMMARY_KEYS.values()}


def case_summary(region_code: str, year: int, *, now: datetime | None = None) -> dict:
    """docs/api.md `/stats/summary` blocks `inquiries`, `complaints`, `objections` for the cases
    concerning `region_code` (or a region under it) received in `year`. Each block:
    received, completed, completion_rate, on_time_rate, satisfaction_rate, overdue_open,
    avg_reply_days. No permission check: the caller (the stats service) has done it."""
    start, end = year_period(year)
    rows = db.session.execute(
        sa.select(Case.kind, *_figures_columns(now or utcnow()))
        .where(within(Case.region_code, region_code), Case.received_at >= start, Case.received_at < end)
        .group_by(Case.kind)
    ).all()
    by_kind = {row.kind: row for row in rows}
    return {key: _figures(by_kind.get(kind) or _Row(**_EMPTY)) for kind, key in SUMMARY_KEYS.items()}


def case_summaries(region_code: str, year: int, width: int, *, now: datetime | None = None) -> dict[str, dict]:
    """`case_summary` for every region of code length `width` (9: townships, 12: villages)
    under `region_code`, in one GROUP BY: {code: {"inquiries": …, "complaints": …,
    "objections": …}}. Regions without cases are absent. A complaint about a township is
    counted under the township's code whatever the width."""
    start, end = year_period(year)
    key = sa.func.substr(Case.region_code, 1, width)
    rows = db.session.execute(
        sa.select(key.label("code"), Case.kind, *_figures_columns(now or utcnow()))
        .where(within(Case.region_code, region_code), Case.received_at >= start, Case.received_at < end)
        .group_by(key, Case.kind)
    ).all()
    grouped: dict[str, dict] = {}
    for row in rows:
        grouped.setdefault(row.code, {})[row.kind] = row
    return {code: {key_: _figures(kinds.get(kind) or _Row(**_EMPTY)) for kind, key_ in SUMMARY_KEYS.items()}
            for code, kinds in grouped.items()}


@dataclass
class UnitRow:
    code: str
    name: str
    figures: dict
    rank: int | None = None

    @property
    def too_few(self) -> bool:
        return self.figures["received"] < MIN_CASES_TO_RANK


def unit_table(region_code: str, year: int, *, kind: CaseKind | None = None, sort: str = "completion_rate",
               descending: bool = True, now: datetime | None = None) -> list[UnitRow]:
    """One row per handling unit under `region_code` for the cases received in `year` (of one
    kind, or all kinds). Units with fewer than MIN_CASES_TO_RANK valid cases get no rank.
    Ranks go by completion rate, then on-time rate (1 = best)."""
    start, end = year_period(year)
    stmt = (sa.select(Case.assigned_region_code.label("code"), Region.name, *_figures_columns(now or utcnow()))
            .join(Region, Region.code == Case.assigned_region_code)
            .where(within(Case.assigned_region_code, region_code), Case.received_at >= start, Case.received_at < end)
            .group_by(Case.assigned_region_code, Region.name))
    if kind is not None:
        stmt = stmt.where(Case.kind == kind)
    rows = [UnitRow(r.code, r.name, _figures(r)) for r in db.session.execute(stmt).all()]
    ranked = sorted((r for r in rows if not r.too_few),
                    key=lambda r: (-(r.figures["completion_rate"] or 0), -(r.figures["on_time_rate"] or 0), r.code))
    for position, row in enumerate(ranked, start=1):
        row.rank = position
    return sort_rows(rows, sort, descending)


def sort_rows(rows: list[UnitRow], sort: str, descending: bool) -> list[UnitRow]:
    """Sort the (few) unit rows by a column; missing values (None) always go last."""
    if sort not in SORT_KEYS:
        sort = "completion_rate"
    if sort == "code":
        return sorted(rows, key=lambda r: r.code, reverse=descending)
    present = [r for r in rows if r.figures[sort] is not None]
    missing = [r for r in rows if r.figures[sort] is None]
    present.sort(key=lambda r: (r.figures[sort], r.code), reverse=descending)
    return present + sorted(missing, key=lambda r: r.code)


def kind_tables(region_code: str, year: int, *, sort: str, descending: bool) -> list[tuple[str, list[UnitRow]]]:
    """The statistics page: a table per kind (and all kinds together), a row per unit."""
    tables = [("全部诉求", unit_table(region_code, year, sort=sort, descending=descending))]
    for kind in CaseKind:
        tables.append((kind.label, unit_table(region_code, year, kind=kind, sort=sort, descending=descending)))
    return tables


# ---------------------------------------------------------------- the page and its export


def _scope(actor, region_code: str | None) -> str:
    code = normalize_code(region_code) if region_code else actor.region_code
    ensure_visible(actor, code, "行政区划")
    if len(code) == 12:
        raise PermissionDenied("办结率统计按乡镇和县汇总，请选择乡镇或县")
    return code


@requires(Perm.view_case_stats)
def statistics_for(actor, *, region_code: str | None = None, year: int | None = None, sort: str = "completion_rate",
                   descending: bool = True) -> dict:
    """Everything the statistics page shows: the summary per kind and the per-unit tables."""
    code = _scope(actor, region_code)
    year = local_today().year if year in (None, "") else check_year(year)
    sort = sort if sort in SORT_KEYS else "completion_rate"
    return {
        "region": find_region(code), "year": year, "sort": sort, "descending": descending,
        "summary": case_summary(code, year), "tables": kind_tables(code, year, sort=sort, descending=descending),
        "min_cases": MIN_CASES_TO_RANK,
    }


EXPORT_HEADERS = ["类别", "承办单位", "单位代码", "受理（有效）", "办结", "办结率", "按时办结率", "满意率",
                  "超期未办结", "平均办理工作日", "排名"]


def _pct(value):
    return "" if value is None else value


@requires(Perm.view_case_stats)
def export_statistics(actor, *, region_code: str | None = None, year: int | None = None):
    """The per-unit tables as one .xlsx sheet (rates as fractions, formatted by the reader)."""
    data = statistics_for(actor, region_code=region_code, year=year, sort="code", descending=False)

    def rows():
        for label, table in data["tables"]:
            for row in table:
                f = row.figures
                yield [label, row.name, row.code, f["received"], f["completed"], _pct(f["completion_rate"]),
                       _pct(f["on_time_rate"]), _pct(f["satisfaction_rate"]), f["overdue_open"],
                       _pct(f["avg_reply_days"]), row.rank if row.rank else f"样本不足{MIN_CASES_TO_RANK}件，不排名"]

    book = write_workbook(f"{data['year']}年办结率", EXPORT_HEADERS, rows(), widths={0: 10, 1: 18, 2: 14, 10: 20},
                          text_columns=[2])
    filename = f"诉求办结统计_{data['region'].name}_{data['year']}.xlsx"
    return book, filename

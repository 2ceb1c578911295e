"""The 问题处置 block (`supervision` in `/stats/summary`, a block on the dashboard): what
supervision found and what became of it (docs/design.md "Supervision with consequences").

- problems: complaints and objections received in the year whose finding is 属实 or 部分属实
  (a 没有收到 is a complaint: it counts once its finding says so);
- held: entries of the year's projects held (止付) now;
- corrections: filings of the year's projects reopened for correction (更正), counted once per
  reopening (their review records);
- recovery_due / recovered: the money recoveries of the year's projects ask back, and what was
  paid back; written_off: write-offs approved (of failed payments and of recoveries);
- accountability: 问责 decisions dated in the year.

Each function answers {group key: value} with one query grouped by `substr(region_code, 1,
width)`, as subsidy.stats.queries does. Money as strings in the API block.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from subsidy.common.money import fmt, quantize
from subsidy.extensions import db
from subsidy.regions.scope import within

KEYS = ("problems", "held", "corrections", "recovery_due", "recovered", "written_off", "accountability")
MONEY_KEYS = ("recovery_due", "recovered", "written_off")


def _key(column, width: int):
    return sa.func.substr(column, 1, width).label("k")


def _grouped(stmt) -> dict:
    return {k: v for k, v in db.session.execute(stmt).all()}


def figures(code: str, year: int, width: int) -> dict[str, dict]:
    """{group key: {KEYS...}} under `code`; money as Decimal (see `block`)."""
    from subsidy.accountability.models import AccountabilityDecision
    from subsidy.cases.models import Case, CaseKind, Finding
    from subsidy.cases.stats import year_period
    from subsidy.filings.models import Action, Entry, EntryHold, Filing, HoldStatus, Review
    from subsidy.projects.models import Project
    from subsidy.recoveries.models import Recovery, WriteOff, WriteOffState

    start, end = year_period(year)
    k = _key(Case.region_code, width)
    problems = _grouped(sa.select(k, sa.func.count()).where(
        within(Case.region_code, code), Case.received_at >= start, Case.received_at < end,
        Case.kind.in_((CaseKind.complaint, CaseKind.objection)),
        Case.finding.in_((Finding.substantiated, Finding.partly_substantiated))).group_by(k))
    # Each table is read under the region (its indexed region code), then joined to its filing
    # and project for the year: the rows of supervision are few, the entries many.
    of_year = sa.and_(Project.id == Filing.project_id, Project.year == year)
    k = _key(EntryHold.region_code, width)
    held = _grouped(sa.select(k, sa.func.count()).join(Filing, Filing.id == EntryHold.filing_id).join(
        Project, of_year).where(within(EntryHold.region_code, code), EntryHold.status == HoldStatus.held).group_by(k))
    k = _key(Filing.region_code, width)
    corrections = _grouped(sa.select(k, sa.func.count(Review.id)).join(Review, Review.filing_id == Filing.id).join(
        Project, of_year).where(within(Filing.region_code, code), Review.action == Action.reopen).group_by(k))
    k = _key(Recovery.region_code, width)
    recoveries = {key: (due, back) for key, due, back in db.session.execute(
        sa.select(k, sa.func.coalesce(sa.func.sum(Recovery.amount_due), 0),
                  sa.func.coalesce(sa.func.sum(Recovery.amount_recovered), 0))
        .join(Filing, Filing.id == Recovery.filing_id).join(Project, of_year)
        .where(within(Recovery.region_code, code)).group_by(k)).all()}
    k = _key(WriteOff.region_code, width)
    written = _grouped(sa.select(k, sa.func.coalesce(sa.func.sum(WriteOff.amount), 0))
                       .join(Entry, Entry.id == WriteOff.entry_id).join(Filing, Filing.id == Entry.filing_id)
                       .join(Project, of_year)
                       .where(within(WriteOff.region_code, code), WriteOff.state == WriteOffState.approved)
                       .group_by(k))
    k = _key(AccountabilityDecision.region_code, width)
    decisions = _grouped(sa.select(k, sa.func.count()).where(
        within(AccountabilityDecision.region_code, code),
        AccountabilityDecision.decided_on.between(date(year, 1, 1), date(year, 12, 31))).group_by(k))
    keys = set(problems) | set(held) | set(corrections) | set(recoveries) | set(written) | set(decisions)
    zero = Decimal("0.00")
    return {key: {"problems": int(problems.get(key, 0)), "held": int(held.get(key, 0)),
                  "corrections": int(corrections.get(key, 0)),
                  "recovery_due": quantize(Decimal(recoveries.get(key, (zero, zero))[0])),
                  "recovered": quantize(Decimal(recoveries.get(key, (zero, zero))[1])),
                  "written_off": quantize(Decimal(written.get(key, zero))),
                  "accountability": int(decisions.get(key, 0))} for key in keys}


def empty() -> dict:
    return {"problems": 0, "held": 0, "corrections": 0, "recovery_due": Decimal("0.00"),
            "recovered": Decimal("0.00"), "written_off": Decimal("0.00"), "accountability": 0}


def add(into: dict, other: dict) -> dict:
    for key in KEYS:
        into[key] += other[key]
    return into


def block(figures_of_region: dict) -> dict:
    """The API block: money as strings."""
    return {key: fmt(value) if key in MONEY_KEYS else value for key, value in figures_of_region.items()}

"""The city's assessment of its counties (考核): docs/design.md "Assessment", docs/api.md
`/stats/assessment`.

A city (a prefecture) scores each of its counties, for a year or one quarter of it (China time),
on five figures, each a rate in [0, 1] with the dashboard's meaning, bounded to the period:

- completion_rate 办结率: valid cases received in the period (about a region of the county,
  rejected and merged ones left out, as `subsidy.cases.stats`) that are replied or closed now
  ÷ those received;
- on_time_rate 按时办结率: of those completed, completed by their deadline ÷ completed;
- notification_rate 通知率: households owed an SMS by a message created in the period that
  were sent or delivered one ÷ households owed one (`subsidy.notify.numbers`);
- mobile_rate 手机端覆盖率: households registered before the end of the period that had signed
  in on the mobile pages before it ÷ those households (`subsidy.public` mobile block, as of the
  period's end);
- filing_timely_rate 备案及时率: a list's three-tier filing (村级备案, 乡镇审核, 县级审定) is due
  FILING_DAYS calendar days (China time) after its publicity (公示) ends. Lists whose due day
  falls in the period and is over, or that were approved by it: those whose current round
  reached 县级审定 by the due day ÷ all of them. A list publicized again (a return, a
  correction, a withdrawal) starts a new round and a new due day; a list never publicized has
  no due day yet.

Score = Σ weight × rate ÷ Σ weight × 100 over the figures with data, from the rates as shown
(3 decimals), rounded half-up to 2 decimals: anyone can recompute it from the export. A figure
without data (denominator 0) is shown as 无数据 and its weight is shared out over the others (a
county without complaints is neither punished nor rewarded for it); a county with no data for
any scored figure has no score and no rank. Equal scores share a rank (1, 1, 3).

Weights are the city admin's (0–100 per figure, 0 = not scored), per year: a year without
its own takes the latest earlier year's, else DEFAULT_WEIGHTS. A year that has ended is closed:
its weights can no longer change, so nobody can rescore an assessment once its results are known.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.cases.calendar import start_of_local_day
from subsidy.cases.models import Case
from subsidy.cases.stats import rate
from subsidy.cases.workflow import COMPLETED_STATES, EXCLUDED_STATES
from subsidy.common.database import local_day
from subsidy.common.params import check_year, parse_int
from subsidy.common.timeutil import local_today, utcnow
from subsidy.common.xlsx import write_workbook
from subsidy.errors import NotFound, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Filing, FilingState, Review
from subsidy.households.models import Household
from subsidy.notify.numbers import households_notified
from subsidy.public.models import MobileSignIn
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.stats.models import AssessmentWeight, Figure

F = Figure
FIGURES = list(Figure)
DEFAULT_WEIGHTS = {F.completion_rate: 25, F.on_time_rate: 20, F.notification_rate: 20, F.mobile_rate: 15,
                   F.filing_timely_rate: 20}
FILING_DAYS = 15  # from the end of publicity to 县级审定
COUNTY = 6  # width of a county's code: the rows of the table


# --- the period -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    year: int
    quarter: int | None
    first_day: date  # China-time days [first_day, end_day)
    end_day: date

    @property
    def start(self) -> datetime:
        return start_of_local_day(self.first_day).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return start_of_local_day(self.end_day).astimezone(UTC)

    @property
    def label(self) -> str:
        return f"{self.year}年" + (f"第{self.quarter}季度" if self.quarter else "")


def period(year, quarter=None) -> Period:
    """The year (default: this one), or its quarter 1–4; bad input is a 400 naming the field."""
    year = local_today().year if year in (None, "") else check_year(year)
    if quarter in (None, ""):
        return Period(year, None, date(year, 1, 1), date(year + 1, 1, 1))
    q = parse_int(quarter, 1, 4)
    if q is None:
        raise ValidationError("季度不正确", fields={"quarter": "应为 1–4（第一至第四季度），或不填表示全年"})
    first = date(year, 3 * q - 2, 1)
    return Period(year, q, first, date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1))


# --- the counts, one GROUP BY per figure over the city ----------------------------------------

class deadline_day(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    """The China-time day `days` calendar days after a UTC timestamp column."""

    type = sa.Date()
    name = "deadline_day"
    inherit_cache = True


def _days(element) -> int:
    return int(element.clauses.clauses[1].name)


@compiles(deadline_day)
def _deadline_day_sqlite(element, compiler, **kw):
    column = element.clauses.clauses[0]
    return compiler.process(sa.func.date(column, sa.literal_column("'+8 hours'"),
                                         sa.literal_column(f"'+{_days(element)} days'")), **kw)


@compiles(deadline_day, "postgresql")
def _deadline_day_postgresql(element, compiler, **kw):
    column = element.clauses.clauses[0]
    day = sa.func.date(sa.func.timezone(sa.literal_column("'Asia/Shanghai'"), column))
    return f"({compiler.process(day, **kw)} + {_days(element)})"


def _due(column):
    return deadline_day(column, sa.literal_column(str(int(FILING_DAYS))))


def _key(column):
    """The county of a row; one object per statement, used in SELECT and GROUP BY alike (PostgreSQL
    reads two renderings with their own parameters as two expressions)."""
    return sa.func.substr(column, 1, COUNTY)


def _sum(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _cases(code: str, p: Period) -> dict[str, tuple[int, int, int]]:
    """{county: (received, completed, on time)}: `subsidy.cases.stats`'s figures over the period."""
    completed, key = Case.state.in_(COMPLETED_STATES), _key(Case.region_code)
    stmt = (sa.select(key, sa.func.count(), _sum(completed),
                      _sum(sa.and_(completed, Case.completed_late.is_(False))))
            .where(within(Case.region_code, code), Case.received_at >= p.start, Case.received_at < p.end,
                   Case.state.not_in(EXCLUDED_STATES))
            .group_by(key))
    return {k: (int(n), int(c), int(t)) for k, n, c, t in db.session.execute(stmt)}


def _mobile(code: str, p: Period) -> dict[str, tuple[int, int]]:
    """{county: (households, signed in)} as of the end of the period."""
    signed = sa.and_(MobileSignIn.household_id.is_not(None), MobileSignIn.first_signed_in_at < p.end)
    key = _key(Household.region_code)
    stmt = (sa.select(key, sa.func.count(), _sum(signed))
            .select_from(Household).outerjoin(MobileSignIn, MobileSignIn.household_id == Household.id)
            .where(within(Household.region_code, code), Household.created_at < p.end)
            .group_by(key))
    return {k: (int(n), int(s)) for k, n, s in db.session.execute(stmt)}


def _filings(code: str, p: Period, today: date) -> dict[str, tuple[int, int]]:
    """{county: (lists due, filed on time)}: see the module's 备案及时率."""
    due, key = _due(Filing.publicity_ends_at), _key(Filing.region_code)
    on_time = sa.exists(sa.select(Review.id).where(
        Review.filing_id == Filing.id, Review.to_state == FilingState.county_approved,
        Review.at >= Filing.publicized_at, local_day(Review.at) <= due))
    stmt = (sa.select(key, sa.func.count(), _sum(on_time))
            .where(within(Filing.region_code, code), Filing.publicity_ends_at.is_not(None),
                   due >= p.first_day, due < p.end_day, sa.or_(due < today, on_time))
            .group_by(key))
    return {k: (int(n), int(t)) for k, n, t in db.session.execute(stmt)}


def counts(code: str, p: Period, *, today: date | None = None) -> dict[str, dict[Figure, tuple[int, int]]]:
    """{county: {figure: (numerator, denominator)}} for every county with any data."""
    cases = _cases(code, p)
    sms = households_notified(code, p.start, p.end, COUNTY)
    mobile = _mobile(code, p)
    filings = _filings(code, p, today or local_today())
    out: dict[str, dict[Figure, tuple[int, int]]] = {}
    for k in set(cases) | set(sms) | set(mobile) | set(filings):
        received, completed, on_time = cases.get(k, (0, 0, 0))
        due, notified = sms.get(k, (0, 0))
        households, signed = mobile.get(k, (0, 0))
        listed, timely = filings.get(k, (0, 0))
        out[k] = {F.completion_rate: (completed, received), F.on_time_rate: (on_time, completed),
                  F.notification_rate: (notified, due), F.mobile_rate: (signed, households),
                  F.filing_timely_rate: (timely, listed)}
    return out


# --- scores and ranks -------------------------------------------------------------------------

@dataclass
class Item:
    code: str
    name: str
    counts: dict[Figure, tuple[int, int]]
    figures: dict[Figure, float | None] = field(default_factory=dict)
    score: float | None = None
    rank: int | None = None


def score(figures: dict[Figure, float | None], weights: dict[Figure, int]) -> float | None:
    """Σ weight × rate ÷ Σ weight × 100 over the scored figures with data (see the module)."""
    scored = [(weights[f], Decimal(str(v))) for f, v in figures.items() if weights.get(f) and v is not None]
    total = sum(w for w, _ in scored)
    if not total:
        return None
    value = sum(w * v for w, v in scored) / total * 100
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rank(items: list[Item]) -> list[Item]:
    """Best first; equal scores share a rank (1, 1, 3); no score: no rank, last, by code."""
    ranked = sorted((i for i in items if i.score is not None), key=lambda i: (-i.score, i.code))
    for position, item in enumerate(ranked, start=1):
        item.rank = ranked[position - 2].rank if position > 1 and ranked[position - 2].score == item.score \
            else position
    return ranked + sorted((i for i in items if i.score is None), key=lambda i: i.code)


# --- weights ----------------------------------------------------------------------------------

def weights_for(code: str, year: int) -> dict[Figure, int]:
    """The city's weights for `year`: its own, else the latest earlier year's, else the defaults."""
    latest = db.session.scalar(sa.select(sa.func.max(AssessmentWeight.year)).where(
        AssessmentWeight.prefecture_code == code, AssessmentWeight.year <= year))
    if latest is None:
        return dict(DEFAULT_WEIGHTS)
    rows = db.session.execute(sa.select(AssessmentWeight.figure, AssessmentWeight.weight).where(
        AssessmentWeight.prefecture_code == code, AssessmentWeight.year == latest)).all()
    return {f: 0 for f in FIGURES} | dict(rows)


def _city(actor, region_code) -> Region:
    code = normalize_code(region_code) if region_code not in (None, "") else actor.region_code
    ensure_visible(actor, code, "行政区划")
    region = db.session.get(Region, code)
    if region is None:
        raise NotFound("行政区划不存在")
    if region.level != Level.prefecture:
        raise ValidationError("考核由市对所辖县（区）进行，请选择市级区划",
                              fields={"region_code": "应为 4 位的市级区划代码"})
    return region


def _parse_weights(raw: dict, current: dict[Figure, int]) -> dict[Figure, int]:
    if not isinstance(raw, dict):
        raise ValidationError("权重应为各项指标及其权重", fields={"weights": "应为对象"})
    errors, out = {}, dict(current)
    for key, value in raw.items():
        try:
            figure = Figure(key)
        except ValueError:
            errors[f"weights.{key}"] = "不认识的考核指标"
            continue
        weight = parse_int(value, 0, 100)
        if weight is None:
            errors[f"weights.{key}"] = f"{figure.label}的权重应为 0–100 的整数"
        else:
            out[figure] = weight
    if errors:
        raise ValidationError("权重有误", fields=errors)
    if not sum(out.values()):
        raise ValidationError("至少要有一项指标的权重大于 0", fields={"weights": "权重之和应大于 0"})
    return out


@requires(Perm.manage_assessment)
def set_weights(actor, region_code=None, year=None, weights: dict | None = None) -> dict[Figure, int]:
    """The city admin sets the weights of a year not yet over (a missing figure keeps its weight);
    audited with before and after."""
    city = _city(actor, region_code)
    year = local_today().year if year in (None, "") else check_year(year)
    if year < local_today().year:
        raise ValidationError(f"{year}年的考核已结束，权重不能再修改", fields={"year": "只能设置今年或以后年度的权重"})
    before = weights_for(city.code, year)
    after = _parse_weights(weights or {}, before)
    own = {row.figure: row for row in db.session.scalars(sa.select(AssessmentWeight).where(
        AssessmentWeight.prefecture_code == city.code, AssessmentWeight.year == year))}
    if after == before and len(own) == len(FIGURES):
        return after
    now = utcnow()
    for figure in FIGURES:
        row = own.get(figure)
        if row is None:
            row = AssessmentWeight(prefecture_code=city.code, year=year, figure=figure)
            db.session.add(row)
        row.weight, row.updated_at, row.updated_by = after[figure], now, actor.id
    db.session.flush()
    audit.record(actor, "assessment.weights", "assessment_weights", f"{city.code}:{year}", region_code=city.code,
                 year=year, before={f.value: w for f, w in before.items()},
                 after={f.value: w for f, w in after.items()})
    return after


# --- the assessment ---------------------------------------------------------------------------

@dataclass
class Assessment:
    region: Region
    period: Period
    weights: dict[Figure, int]
    items: list[Item]

    @property
    def scored(self) -> list[Figure]:
        """The figures the city chose (weight above 0), in their fixed order."""
        return [f for f in FIGURES if self.weights.get(f)]


def assess(region: Region, p: Period, *, today: date | None = None) -> Assessment:
    """The assessment of a city's counties once the scope is checked."""
    weights = weights_for(region.code, p.year)
    found = counts(region.code, p, today=today)
    empty = {f: (0, 0) for f in FIGURES}
    counties = db.session.execute(sa.select(Region.code, Region.name).where(
        within(Region.code, region.code), Region.level == Level.county).order_by(Region.code)).all()
    items = []
    for code, name in counties:
        item = Item(code, name, found.get(code, empty))
        item.figures = {f: rate(*item.counts[f]) for f in FIGURES}
        item.score = score(item.figures, weights)
        items.append(item)
    return Assessment(region, p, weights, rank(items))


@requires(Perm.view_assessment)
def assessment(actor, region_code=None, year=None, quarter=None) -> Assessment:
    return assess(_city(actor, region_code), period(year, quarter))


def as_json(a: Assessment) -> dict:
    """docs/api.md `/stats/assessment`."""
    return {"region_code": a.region.code, "year": a.period.year, "quarter": a.period.quarter,
            "weights": {f.value: a.weights.get(f, 0) for f in FIGURES},
            "items": [{"region_code": i.code, "name": i.name, "score": i.score, "rank": i.rank,
                       "figures": {f.value: i.figures[f] for f in FIGURES},
                       "counts": {f.value: {"numerator": i.counts[f][0], "denominator": i.counts[f][1]}
                                  for f in FIGURES}}
                      for i in a.items]}


NO_DATA = "无数据"


def export_rows(a: Assessment) -> tuple[list[str], list[list]]:
    """Headers and rows of the .xlsx: rank, county, score, then each scored figure (a fraction,
    or 无数据) with its numerator and denominator."""
    headers = ["排名", "区划代码", "县（区）", "得分"]
    for f in a.scored:
        headers += [f"{f.label}（权重{a.weights[f]}）", f"{f.label}·分子", f"{f.label}·分母"]
    rows = []
    for i in a.items:
        line = [i.rank if i.rank is not None else "不排名", i.code, i.name,
                i.score if i.score is not None else NO_DATA]
        for f in a.scored:
            line += [i.figures[f] if i.figures[f] is not None else NO_DATA, *i.counts[f]]
        rows.append(line)
    return headers, rows


@requires(Perm.view_assessment)
def export(actor, region_code=None, year=None, quarter=None):
    """The table as one .xlsx sheet and its file name."""
    a = assessment(actor, region_code, year, quarter)
    headers, rows = export_rows(a)
    book = write_workbook(f"{a.period.label}考核", headers, rows, text_columns=[1],
                          widths={0: 8, 1: 10, 2: 12, 3: 10, **{i: 14 for i in range(4, len(headers))}})
    return book, f"考核_{a.region.name}_{a.period.label}_{local_today():%Y%m%d}.xlsx"

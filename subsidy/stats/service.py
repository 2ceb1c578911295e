"""The supervision figures (监管驾驶舱) and `/api/v1/stats/summary`, from one set of queries.

API.md `/stats/summary` fixes the blocks and their field names; DESIGN.md and the report
(seeds/003) the meaning:

- villages: villages (行政村) under the region on the platform (the regions table);
- filings.filed: filings of the year's projects that reached 村级备案 (village_filed) or any
  later state — now, or at any time according to their review records (a list returned after
  it was filed was still filed); filings.reviewed: those that reached 县级审定 (county_approved)
  or later. "The year" is the project's year (the subsidy year the county reports on);
- policies_published, inquiries/complaints/objections, sms, mobile: the functions of the
  policies, cases, notify and public areas, each defining its own block;
- money.approved_amount: entries of county-approved or paid filings of the year's projects;
  money.paid_amount: payments the bank reported paid, of the year's projects. Strings "123.45".

Rates are fractions rounded to 3 decimals, null when the denominator is 0. Scope: the actor may
ask for their region or one under it; anything else is 404, as if it did not exist.

The dashboard adds, from the same functions: budget use per project, open risk flags, snapshot
mismatches, overdue cases, and one row per township (or per village inside a township).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require
from subsidy.common.money import fmt
from subsidy.common.timeutil import local_today
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.models import Region
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.regions.service import count_villages, county_of
from subsidy.stats import cache, queries

CASE_KINDS = ("inquiries", "complaints", "objections")


def region_overview(actor) -> dict:
    code = actor.region_code
    hh = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(Household.phone), sa.func.coalesce(sa.func.sum(Household.land_area_mu), 0))
        .where(within(Household.region_code, code))
    ).one()
    projects = db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(Project.county_code == county_of(code)))
    return {"villages": count_villages(code), "households": hh[0], "with_phone": hh[1], "land_mu": hh[2],
            "projects": projects}


def rate(part, whole) -> float | None:
    return round(part / whole, 3) if whole else None


# --- the other areas' blocks ------------------------------------------------------------------

def _policies(code: str, year: int) -> int:
    from subsidy.policies.service import policies_published

    return policies_published(code, year)


def _sms(code: str, year: int) -> dict:
    from subsidy.notify.numbers import sms_summary

    return sms_summary(code, year)


def _mobile(code: str) -> dict:
    from subsidy.public.service import mobile_summary

    return mobile_summary(code)


def _cases(code: str, year: int) -> dict:
    from subsidy.cases.stats import case_summary

    return case_summary(code, year)


def _cases_by_child(code: str, year: int, width: int) -> dict[str, dict]:
    from subsidy.cases.stats import case_summaries, case_summary

    found = case_summaries(code, year, width)
    empty = None
    out = {}
    for child in db.session.scalars(sa.select(Region.code).where(Region.parent_code == code)):
        if child in found:
            out[child] = found[child]
        else:  # no case at all: the empty blocks, as case_summary gives them
            empty = empty or case_summary("0" * width, year)
            out[child] = empty
    return out


# --- the summary ------------------------------------------------------------------------------

def parse_args(actor, region_code, year) -> tuple[str, int]:
    code = normalize_code(region_code) if region_code not in (None, "") else actor.region_code
    ensure_visible(actor, code, "行政区划")
    if year in (None, ""):
        return code, local_today().year
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ValidationError("年份应为四位数字", fields={"year": "应为年份，如 2017"}) from None
    if not 2000 <= year <= 2100:
        raise ValidationError("年份超出范围", fields={"year": "2000–2100"})
    return code, year


def _block(code: str, year: int, own: dict, cases: dict | None = None) -> dict:
    """The API block of one region; `own` holds this area's figures for it, `cases` the cases
    area's blocks when already computed for a group of regions."""
    cases = cases if cases is not None else _cases(code, year)
    return {
        "region_code": code, "year": year,
        "villages": own["villages"],
        "filings": {"filed": own["filed"], "reviewed": own["reviewed"]},
        "policies_published": _policies(code, year),
        "inquiries": cases["inquiries"], "complaints": cases["complaints"], "objections": cases["objections"],
        "sms": _sms(code, year),
        "mobile": _mobile(code),
        "money": {"approved_amount": fmt(own["approved"]), "paid_amount": fmt(own["paid"])},
    }


def own_figures(code: str, year: int, width: int) -> dict[str, dict]:
    """This area's figures for every group of width `width` under `code` (one query each)."""
    vill = queries.villages(code, width)
    fil = queries.filings(code, year, width)
    appr = queries.approved_amounts(code, year, width)
    paid = queries.paid_amounts(code, year, width)
    flags = queries.open_flags(code, year, width)
    keys = set(vill) | set(fil) | set(appr) | set(paid) | set(flags)
    zero = {"filings": 0, "filed": 0, "reviewed": 0, "paid_filings": 0, "mismatches": 0}
    return {k: {"villages": vill.get(k, 0), **fil.get(k, zero), "approved": appr.get(k, Decimal("0.00")),
                "paid": paid.get(k, Decimal("0.00")), "open_flags": flags.get(k, 0)} for k in keys}


def summary(actor, region_code=None, year=None, *, refresh: bool = False) -> dict:
    """API.md `/stats/summary` for a region in the actor's scope, plus `as_of` (when it was
    computed) and `cached` (true when served from the refreshed summary, see `stats.cache`)."""
    require(actor, Perm.view_dashboard)
    code, year = parse_args(actor, region_code, year)

    result = cache.cached("summary", code, year, lambda: _compute_summary(code, year), lambda v: v, lambda v: v,
                          refresh=refresh)
    return {**result.value, "as_of": result.as_of.isoformat(), "cached": result.cached}


def own_figures_empty() -> dict:
    return {"villages": 0, "filings": 0, "filed": 0, "reviewed": 0, "paid_filings": 0, "mismatches": 0,
            "approved": Decimal("0.00"), "paid": Decimal("0.00"), "open_flags": 0}


# --- the dashboard ----------------------------------------------------------------------------

@dataclass
class Row:
    code: str
    name: str
    block: dict
    own: dict

    @property
    def overdue(self) -> int:
        return sum(int(self.block[k].get("overdue_open") or 0) for k in CASE_KINDS)

    def cells(self) -> dict:
        b, o = self.block, self.own
        return {
            "code": self.code, "name": self.name, "villages": b["villages"],
            "filed": b["filings"]["filed"], "reviewed": b["filings"]["reviewed"],
            "policies": b["policies_published"],
            "inquiries": b["inquiries"]["received"], "inquiries_rate": b["inquiries"]["completion_rate"],
            "complaints": b["complaints"]["received"], "complaints_rate": b["complaints"]["completion_rate"],
            "sms_rate": b["sms"]["notification_rate"], "mobile_rate": b["mobile"]["coverage_rate"],
            "approved": o["approved"], "paid": o["paid"], "open_flags": o["open_flags"],
            "mismatches": o["mismatches"], "overdue": self.overdue,
        }


COLUMNS = [  # (key, label, kind) — the table on the page and the .xlsx export
    ("name", "区划", "text"), ("villages", "行政村", "int"), ("filed", "备案", "int"), ("reviewed", "审核", "int"),
    ("policies", "惠民政策", "int"), ("inquiries", "受理咨询", "int"), ("inquiries_rate", "咨询办结率", "rate"),
    ("complaints", "受理投诉", "int"), ("complaints_rate", "投诉办结率", "rate"), ("sms_rate", "短信通知率", "rate"),
    ("mobile_rate", "手机端覆盖率", "rate"), ("approved", "审定金额(元)", "money"), ("paid", "已发放(元)", "money"),
    ("open_flags", "未处理风险", "int"), ("mismatches", "快照不一致", "int"), ("overdue", "超期诉求", "int"),
]


@dataclass
class Dashboard:
    region: Region
    year: int
    total: Row
    rows: list[Row]
    child_label: str
    projects: list[dict]
    months: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    as_of: object = None
    cached: bool = False


def dashboard(actor, region_code=None, year=None, *, refresh: bool = False) -> Dashboard:
    require(actor, Perm.view_dashboard)
    code, year = parse_args(actor, region_code, year)
    region = db.session.get(Region, code)
    if region is None:
        from subsidy.errors import NotFound

        raise NotFound("行政区划不存在")

    result = cache.cached("dashboard", code, year, lambda: _compute_dashboard(region, year), _encode, _decode,
                          refresh=refresh)
    v = result.value
    return Dashboard(region, year, v["total"], v["rows"], "乡镇" if len(code) == 6 else "行政村", v["projects"],
                     v["months"], result.seconds, result.as_of, result.cached)


def _compute_summary(code: str, year: int) -> dict:
    return _block(code, year, own_figures(code, year, len(code)).get(code) or own_figures_empty())


def _compute_dashboard(region: Region, year: int) -> dict:
    """The region's row, one row per child region (grouped queries for this area's figures,
    the other areas' block functions per child), budget per project and cases per month."""
    code = region.code
    own_total = own_figures(code, year, len(code)).get(code) or own_figures_empty()
    rows: list[Row] = []
    if len(code) < 12:
        width = len(code) + 3
        own = own_figures(code, year, width)
        cases = _cases_by_child(code, year, width)
        for child in region.children:
            o = own.get(child.code) or own_figures_empty()
            rows.append(Row(child.code, child.name, _block(child.code, year, o, cases.get(child.code)), o))
    return {"total": Row(code, region.name, _block(code, year, own_total), own_total), "rows": rows,
            "projects": queries.projects(code, year), "months": _months(code, year)}


_DECIMALS = ("approved", "paid", "budget")


def _plain(d: dict) -> dict:
    return {k: (str(v) if k in _DECIMALS and v is not None else v) for k, v in d.items()}


def _exact(d: dict) -> dict:
    return {k: (Decimal(v) if k in _DECIMALS and v is not None else v) for k, v in d.items()}


def _encode(v: dict) -> dict:
    row = lambda r: {"code": r.code, "name": r.name, "block": r.block, "own": _plain(r.own)}  # noqa: E731
    return {"total": row(v["total"]), "rows": [row(r) for r in v["rows"]],
            "projects": [_plain(p) for p in v["projects"]], "months": v["months"]}


def _decode(v: dict) -> dict:
    row = lambda r: Row(r["code"], r["name"], r["block"], _exact(r["own"]))  # noqa: E731
    return {"total": row(v["total"]), "rows": [row(r) for r in v["rows"]],
            "projects": [_exact(p) for p in v["projects"]], "months": v["months"]}


def refresh_all(year: int) -> list[tuple[str, float]]:
    """`flask stats refresh` (cron): recompute the summary and dashboard of every county and
    township for `year` and keep them, however fast they were."""
    done = []
    for region in db.session.scalars(sa.select(Region).where(sa.func.length(Region.code) < 12).order_by(Region.code)):
        started = time.perf_counter()
        cache.cached("summary", region.code, year, lambda r=region: _compute_summary(r.code, year),
                     lambda v: v, lambda v: v, refresh=True)
        cache.cached("dashboard", region.code, year, lambda r=region: _compute_dashboard(r, year), _encode, _decode,
                     refresh=True)
        done.append((region.code, time.perf_counter() - started))
    return done


def _months(code: str, year: int) -> list[dict]:
    return queries.cases_by_month(code, year)


def years_available(actor) -> list[int]:
    years = set(db.session.scalars(sa.select(Project.year).where(Project.county_code == county_of(actor.region_code))
                                   .distinct()))
    years.add(local_today().year)
    return sorted(years, reverse=True)


def export_rows(d: Dashboard) -> list[list]:
    """The table of the page as rows for the .xlsx export: one per child region, then the total."""
    out = []
    for row in [*d.rows, d.total]:
        cells = row.cells()
        line = []
        for key, _label, kind in COLUMNS:
            v = cells[key]
            if kind == "money":
                v = Decimal(fmt(v))
            line.append(v)
        out.append(line)
    out[-1][0] = f"合计：{d.total.name}"
    return out

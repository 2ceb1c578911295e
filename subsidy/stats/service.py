"""The supervision figures (监管驾驶舱) and `/api/v1/stats/summary`, from one set of queries.

docs/api.md `/stats/summary` fixes the blocks and their field names; docs/design.md (the report's figures) the meaning:

- villages: villages (行政村) under the region on the platform (the regions table);
- filings.filed: filings of the year's projects that reached 村级备案 (village_filed) or any
  later state — now, or at any time according to their review records (a list returned after
  it was filed was still filed); filings.reviewed: those that reached 县级审定 (county_approved)
  or later. "The year" is the project's year (the subsidy year the county reports on);
- policies_published, inquiries/complaints/objections, sms, mobile: the functions of the
  policies, cases, notify and public areas, each defining its own block;
- money.approved_amount: entries of county-approved or paid filings of the year's projects;
  money.paid_amount: payments the bank reported paid, of the year's projects, and the filings
  paid in full (a material filing's goods at their unit price once 发放完毕). Strings "123.45";
- supervision (问题处置) and materials (实物发放): subsidy.stats.supervision and
  subsidy.stats.materials, each defining its own block.

Rates are fractions rounded to 3 decimals, null when the denominator is 0. Scope: the actor may
ask for their region or one under it; anything else is 404, as if it did not exist.

The dashboard adds, from the same functions: budget use per project, open risk flags, snapshot
mismatches, overdue cases, and one row per township (or per village inside a township); for
the material projects, goods due and handed out per project and the township stores.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.common.database import read_phase
from subsidy.common.money import fmt
from subsidy.common.params import check_year
from subsidy.common.timeutil import local_today, utcnow
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.models import Region
from subsidy.regions.scope import ancestors, county_scope, ensure_visible, normalize_code, within
from subsidy.regions.service import count_villages
from subsidy.stats import cache, materials, queries, supervision

CASE_KINDS = ("inquiries", "complaints", "objections")


@requires(Perm.view_dashboard)
def region_overview(actor) -> dict:
    code = actor.region_code
    hh = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(Household.phone),
                  sa.func.coalesce(sa.func.sum(Household.land_area_mu), 0))
        .where(within(Household.region_code, code))
    ).one()
    projects = db.session.scalar(
        sa.select(sa.func.count()).select_from(Project).where(within(Project.county_code, county_scope(code))))
    return {"villages": count_villages(code), "households": hh[0], "with_phone": hh[1], "land_mu": hh[2],
            "projects": projects}


def rate(part, whole) -> float | None:
    return round(part / whole, 3) if whole else None


# --- the other areas' blocks ------------------------------------------------------------------

# Code length of a region's children (GB/T 2260), top-down: the prefectures of a province, the
# counties of a prefecture, the townships of a county, the villages of a township; and the
# children's name by their code length.
CHILD_WIDTH = {2: 4, 4: 6, 6: 9, 9: 12}
CHILD_LABEL = {4: "市", 6: "县", 9: "乡镇", 12: "行政村"}
EMPTY_MOBILE = {"households": 0, "households_signed_in": 0, "coverage_rate": None}


def _policies(code: str, year: int) -> int:
    """Policies published in the year that apply to `code` (`policies_published`): at a city or
    province, each policy once, whoever wrote it — a city-wide one once for the city, though it
    also counts in each of its counties (docs/api.md "/stats/summary")."""
    from subsidy.policies.service import policies_published

    return policies_published(code, year)


def _cases(code: str, year: int) -> dict:
    from subsidy.cases.stats import case_summary

    return case_summary(code, year)


def _regions_of_width(code: str, width: int) -> list[Region]:
    return list(db.session.scalars(sa.select(Region).where(within(Region.code, code),
                                                           sa.func.length(Region.code) == width)
                                   .order_by(Region.code)))


def child_regions(code: str) -> list[Region]:
    """The regions one level under `code` (`CHILD_WIDTH`). Above the county, the first level
    down that has rows: a province whose database holds no prefecture rows (a generated one)
    lists its counties, as it did before prefectures existed."""
    width = CHILD_WIDTH.get(len(code))
    while width is not None:
        rows = _regions_of_width(code, width)
        if rows or width >= 6:
            return rows
        width = CHILD_WIDTH.get(width)
    return []


def with_children(block: dict, children: list[tuple[Region, dict]]) -> dict:
    """The summary of a prefecture or province: its own blocks and `children`, the same blocks
    of each region one level down with its name (docs/api.md). A county's has no `children`."""
    return {**block, "children": [{"region_code": r.code, "name": r.name, **b} for r, b in children]}


Figures = tuple[dict, dict]  # (the API block, this area's own figures) of one region


@dataclass
class Level:
    """Every region of one code length under a region, from one grouped query per area."""

    groups: dict[str, Figures]
    total: Figures | None
    money: dict[tuple[str, int], tuple[Decimal, Decimal]]  # (region, project) → approved, paid
    goods: dict[tuple[str, int], dict] = field(default_factory=dict)  # (region, project) → materials figures
    material_projects: dict[int, dict] = field(default_factory=dict)
    _by_region: dict | None = field(default=None, repr=False)

    def money_of(self, prefix: str) -> dict[int, tuple[Decimal, Decimal]]:
        """{project: (approved, paid)} under `prefix`, for the budget-per-project chart."""
        if self._by_region is None:
            self._by_region = {}
            for (k, pid), m in self.money.items():
                self._by_region.setdefault(k, []).append((pid, m))
        out: dict[int, tuple[Decimal, Decimal]] = {}
        for k, rows in self._by_region.items():
            if k.startswith(prefix):
                for pid, (a, p) in rows:
                    had = out.get(pid, (Decimal("0.00"), Decimal("0.00")))
                    out[pid] = (had[0] + a, had[1] + p)
        return out

    def goods_of(self, prefix: str) -> list[dict]:
        """The material projects' table under `prefix` (subsidy.stats.materials)."""
        return materials.project_rows(materials.of_prefix(self.goods, prefix), self.material_projects, prefix)


def figures(code: str, year: int, width: int, children: list[str], *, total: bool = True) -> Level:
    """The figures of every region in `children` (codes of length `width` under `code`) and,
    with `total`, of `code` itself: one grouped query per area, whatever the number of
    children. Additive figures of the total are the sum over every group (rows filed against
    a township or the county itself included); what does not add up (households notified,
    rates, policies that apply to several regions) is computed for the total as such."""
    from subsidy.cases.stats import case_summaries, empty_case_summary
    from subsidy.notify.numbers import empty_summary, sms_figures
    from subsidy.policies.service import policies_published_by_region
    from subsidy.public.service import mobile_summaries

    money = queries.amounts(code, year, width)
    own = own_figures(code, year, width, money)
    sms, sms_total = sms_figures(code, year, width, total=total)
    mobile, mobile_total = mobile_summaries(code, width)
    cases = case_summaries(code, year, width) if children else {}
    if children and len(children[0]) < 6:
        # Prefectures under a province: a handful, one count each (the grouped count reads
        # the levels from the county down).
        policies = {child: _policies(child, year) for child in children}
    else:
        policies = policies_published_by_region(code, year, children) if children else {}
    sup = supervision.figures(code, year, width)
    names = materials.projects(code, year)
    goods = materials.figures(code, year, width) if names else {}
    goods_by = materials.by_region(goods)
    groups = {}
    for child in children:
        o = own.get(child) or own_figures_empty()
        groups[child] = (_block(child, year, o, cases.get(child) or empty_case_summary(),
                                sms.get(child) or empty_summary(), mobile.get(child) or dict(EMPTY_MOBILE),
                                policies[child], sup.get(child), materials.block(goods_by.get(child), names)), o)
    if not total:
        return Level(groups, None, money, goods, names)
    o = own_figures_empty()
    for row in own.values():
        for k in o:
            o[k] += row[k]
    sup_total = supervision.empty()
    for row in sup.values():
        supervision.add(sup_total, row)
    mat_total = materials.block(materials.of_prefix(goods, ""), names)
    return Level(groups, (_block(code, year, o, _cases(code, year), sms_total, mobile_total, sup=sup_total,
                                 mat=mat_total), o), money, goods, names)


# --- the summary ------------------------------------------------------------------------------

@exempt("parses the dashboard's arguments for summary/dashboard, which require view_dashboard")
def parse_args(actor, region_code, year) -> tuple[str, int]:
    code = normalize_code(region_code) if region_code not in (None, "") else actor.region_code
    ensure_visible(actor, code, "行政区划")
    if year in (None, ""):
        return code, local_today().year
    return code, check_year(year)


def _block(code: str, year: int, own: dict, cases: dict, sms: dict, mobile: dict,
           policies: int | None = None, sup: dict | None = None, mat: dict | None = None) -> dict:
    """The API block of one region from each area's figures for it."""
    return {
        "region_code": code, "year": year,
        "villages": own["villages"],
        "filings": {"filed": own["filed"], "reviewed": own["reviewed"]},
        "policies_published": _policies(code, year) if policies is None else policies,
        "inquiries": cases["inquiries"], "complaints": cases["complaints"], "objections": cases["objections"],
        "sms": sms,
        "mobile": mobile,
        "money": {"approved_amount": fmt(own["approved"]), "paid_amount": fmt(own["paid"])},
        "supervision": supervision.block(sup or supervision.empty()),
        "materials": mat or materials.empty_block(),
    }


def own_figures(code: str, year: int, width: int, money: dict | None = None) -> dict[str, dict]:
    """This area's figures for every group of width `width` under `code` (one query each);
    `money` from `queries.amounts` when already read."""
    vill = queries.villages(code, width)
    fil = queries.filings(code, year, width)
    appr: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    for (k, _pid), (a, p) in (money if money is not None else queries.amounts(code, year, width)).items():
        appr[k], paid[k] = appr.get(k, Decimal("0.00")) + a, paid.get(k, Decimal("0.00")) + p
    flags = queries.open_flags(code, year, width)
    keys = set(vill) | set(fil) | set(appr) | set(paid) | set(flags)
    zero = {"filings": 0, "filed": 0, "reviewed": 0, "paid_filings": 0, "mismatches": 0}
    return {k: {"villages": vill.get(k, 0), **fil.get(k, zero), "approved": appr.get(k, Decimal("0.00")),
                "paid": paid.get(k, Decimal("0.00")), "open_flags": flags.get(k, 0)} for k in keys}


@requires(Perm.view_dashboard)
def summary(actor, region_code=None, year=None, *, refresh: bool = False) -> dict:
    """docs/api.md `/stats/summary` for a region in the actor's scope, plus `as_of` (when it was
    computed) and `cached` (true when served from the refreshed summary, see `stats.cache`)."""
    code, year = parse_args(actor, region_code, year)
    return summary_of(code, year, refresh=refresh)


def summary_of(code: str, year: int, *, refresh: bool = False) -> dict:
    """`summary` once the scope is checked (also the province root, which `refresh_all` keeps)."""
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
    def supervision(self) -> dict:
        s = self.block.get("supervision") or supervision.block(supervision.empty())
        return {k: (Decimal(v) if k in supervision.MONEY_KEYS else v) for k, v in s.items()}

    @property
    def materials(self) -> dict:
        # A summary kept before the block existed has none: read as nothing due.
        return self.block.get("materials") or materials.empty_block()

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


# The 问题处置 table under the main one (and columns of the .xlsx export after the main ones).
SUPERVISION_COLUMNS = [
    ("problems", "查实问题", "int"), ("held", "止付（户）", "int"), ("corrections", "更正（次）", "int"),
    ("recovery_due", "应追回(元)", "money"), ("recovered", "已追回(元)", "money"), ("written_off", "核销(元)", "money"),
    ("accountability", "问责（人次）", "int"),
]

# The 实物发放 table (and the last columns of the .xlsx export): entries are households in one
# project each, hence 户次.
MATERIAL_COLUMNS = [
    ("entries_due", "实物应领（户次）", "int"), ("entries_done", "实物已领齐（户次）", "int"),
    ("distribution_rate", "实物发放率", "rate"), ("entries_held", "实物止付（户次）", "int"),
    ("entries_written_off", "实物核销（户次）", "int"),
]

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
    goods: list[dict] = field(default_factory=list)  # the material projects' table
    stores: list[dict] = field(default_factory=list)  # township stores (乡镇库存)


@requires(Perm.view_dashboard)
def dashboard(actor, region_code=None, year=None, *, refresh: bool = False) -> Dashboard:
    code, year = parse_args(actor, region_code, year)
    region = db.session.get(Region, code)
    if region is None:
        from subsidy.errors import NotFound

        raise NotFound("行政区划不存在")

    return dashboard_of(region, year, refresh=refresh)


def dashboard_of(region: Region, year: int, *, refresh: bool = False) -> Dashboard:
    """`dashboard` once the scope is checked (also the province root that `refresh_all` keeps,
    given as an unsaved Region)."""
    code = region.code
    result = cache.cached("dashboard", code, year, lambda: _compute_dashboard(region, year), _encode, _decode,
                          refresh=refresh)
    v = result.value
    label = CHILD_LABEL[len(v["rows"][0].code)] if v["rows"] else CHILD_LABEL.get(CHILD_WIDTH.get(len(code)), "")
    return Dashboard(region, year, v["total"], v["rows"], label, v["projects"],
                     v["months"], result.seconds, result.as_of, result.cached, goods=v.get("goods", []),
                     stores=v.get("stores", []))


def _compute_summary(code: str, year: int) -> dict:
    if len(code) >= 6:
        return figures(code, year, len(code), []).total[0]
    # A prefecture or province: its children's blocks come from the same grouped pass as its own.
    children = child_regions(code)
    level = figures(code, year, len(children[0].code) if children else len(code), [c.code for c in children])
    return with_children(level.total[0], [(c, level.groups[c.code][0]) for c in children])


def _compute_dashboard(region: Region, year: int) -> dict:
    """The region's row and one row per child region, from one grouped query per area (see
    `figures`), budget per project and cases per month."""
    code = region.code
    children = child_regions(code)
    level = figures(code, year, len(children[0].code) if children else len(code), [c.code for c in children])
    stores = materials.stock(code, year) if level.material_projects else {}
    return _dashboard_value(code, region.name, year, level.total,
                            [Row(c.code, c.name, *level.groups[c.code]) for c in children], level.money_of(code),
                            level, stores)


def _store_rows(code: str, name: str, rows: list[Row], level: Level, stores: dict) -> list[dict]:
    """The store table of a region: per child region down to the townships (a city's counties,
    a county's townships), a township's own store; none in a village."""
    if len(code) > 9 or not stores:
        return []
    width = 9 if len(code) == 9 or not rows else len(rows[0].code)
    names = {r.code: r.name for r in rows} | {code: name}
    return materials.store_rows(stores, code, width, names, level.material_projects)


def _dashboard_value(code: str, name: str, year: int, total: Figures, rows: list[Row], money: dict,
                     level: Level, stores: dict) -> dict:
    return {"total": Row(code, name, *total), "rows": rows, "projects": queries.projects(code, year, money),
            "months": _months(code, year), "goods": level.goods_of(code),
            "stores": _store_rows(code, name, rows, level, stores)}


_DECIMALS = ("approved", "paid", "budget")


def _plain(d: dict) -> dict:
    return {k: (str(v) if k in _DECIMALS and v is not None else v) for k, v in d.items()}


def _exact(d: dict) -> dict:
    return {k: (Decimal(v) if k in _DECIMALS and v is not None else v) for k, v in d.items()}


def _encode(v: dict) -> dict:
    row = lambda r: {"code": r.code, "name": r.name, "block": r.block, "own": _plain(r.own)}  # noqa: E731
    return {"total": row(v["total"]), "rows": [row(r) for r in v["rows"]],
            "projects": [_plain(p) for p in v["projects"]], "months": v["months"], "goods": v["goods"],
            "stores": v["stores"]}


def _decode(v: dict) -> dict:
    row = lambda r: Row(r["code"], r["name"], r["block"], _exact(r["own"]))  # noqa: E731
    return {"total": row(v["total"]), "rows": [row(r) for r in v["rows"]],
            "projects": [_exact(p) for p in v["projects"]], "months": v["months"],
            "goods": v.get("goods", []), "stores": v.get("stores", [])}  # kept before the block: none


PROVINCE_NAME = "全省"  # a province root without a row of its own (a generated province)


def refresh_all(year: int) -> list[tuple[str, str]]:
    """`flask stats refresh` (cron): recompute and keep the summary and dashboard of every
    prefecture, county and township for `year`, and of each province root (its row, or the
    counties sharing the first two digits of their code when it has none). Set-based: one
    grouped pass per level over the province (its prefectures, counties, townships, villages)
    gives every region's figures at once, so a refresh costs a few scans of the data, not two
    computations per region. Not incremental: everything is recomputed. Answers [(kind, code)]
    of what was kept.

    The figures are read first, in the read phase (`read_phase`), and written after, each phase
    its own transaction: on SQLite a command's transaction holds the write lock from its start,
    and a province-sized read must not hold it (every form would wait). They are stamped with
    the time their reading began."""
    started, as_of = time.perf_counter(), utcnow()
    computed: list[tuple[str, str, int, dict]] = []  # (kind, code, year, value)
    with read_phase():  # ended before the writes: see the docstring
        _compute_all(year, computed)
    seconds = time.perf_counter() - started
    for kind, code, y, value in computed:
        cache.keep(kind, code, y, _encode(value) if kind == "dashboard" else value, seconds, as_of)
    return [(kind, code) for kind, code, _y, _v in computed]


def _roots() -> list[tuple[str, str]]:
    """(code, name) of every province: its row, and the first two digits of any county's code
    that has none."""
    names = dict(db.session.execute(sa.select(Region.code, Region.name).where(sa.func.length(Region.code) == 2)).all())
    for code in db.session.scalars(sa.select(Region.code).where(sa.func.length(Region.code) == 6)):
        names.setdefault(code[:2], PROVINCE_NAME)
    return sorted(names.items())


def _compute_all(year: int, computed: list) -> None:
    for root, root_name in _roots():
        levels = {w: _regions_of_width(root, w) for w in (4, 6, 9, 12)}
        top_width = 4 if levels[4] else 6  # the root's children: see `child_regions`
        top = figures(root, year, top_width, [r.code for r in levels[top_width]])
        counties = top if top_width == 6 else figures(root, year, 6, [r.code for r in levels[6]], total=False)
        townships = figures(root, year, 9, [r.code for r in levels[9]], total=False)
        villages = figures(root, year, 12, [r.code for r in levels[12]], total=False)
        found = {**top.groups, **counties.groups, **townships.groups, **villages.groups}
        # Every township store of the province at once; each dashboard takes its own.
        stores = materials.stock(root, year) if top.material_projects else {}
        under: dict[str, list[Region]] = {}
        for r in levels[6] + levels[9] + levels[12]:
            under.setdefault(ancestors(r.code)[-1], []).append(r)
        kept = [(root, root_name, top.total, levels[top_width], top)] + [
            (r.code, r.name, found[r.code], under.get(r.code, []), level)
            for r, level in [(r, counties) for r in levels[4] + levels[6]] + [(r, townships) for r in levels[9]]]
        for code, name, own, children, level in kept:
            block = own[0] if len(code) >= 6 else with_children(own[0], [(r, found[r.code][0]) for r in children])
            computed.append(("summary", code, year, block))
            computed.append(("dashboard", code, year, _dashboard_value(
                code, name, year, own, [Row(r.code, r.name, *found[r.code]) for r in children],
                level.money_of(code), level, stores)))


def _months(code: str, year: int) -> list[dict]:
    return queries.cases_by_month(code, year)


@requires(Perm.view_dashboard)
def years_available(actor) -> list[int]:
    years = set(db.session.scalars(
        sa.select(Project.year).where(within(Project.county_code, county_scope(actor.region_code))).distinct()))
    years.add(local_today().year)
    return sorted(years, reverse=True)


def export_rows(d: Dashboard) -> list[list]:
    """The table of the page as rows for the .xlsx export: one per child region, then the total."""
    out = []
    for row in [*d.rows, d.total]:
        cells = {**row.cells(), **row.supervision, **row.materials}
        line = []
        for key, _label, kind in COLUMNS + SUPERVISION_COLUMNS + MATERIAL_COLUMNS:
            v = cells[key]
            if kind == "money":
                v = Decimal(fmt(v))
            line.append(v)
        out.append(line)
    out[-1][0] = f"合计：{d.total.name}"
    return out

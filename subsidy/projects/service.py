"""Subsidy projects: defined by the county admin, read by every tier of the county."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.catalogue import service as catalogue
from subsidy.common.money import MONEY_MAX, parse_amount
from subsidy.common.pagination import Page, paginate
from subsidy.common.params import YEAR_MAX, YEAR_MIN, parse_int
from subsidy.common.text import single_line
from subsidy.errors import Conflict, NotFound, ValidationError
from subsidy.extensions import db
from subsidy.projects.models import Category, Project, Unit
from subsidy.regions.scope import county_scope, covers, within
from subsidy.regions.service import county_only_code

# The rate is NUMERIC(12,2), but an entry's amount is rate × quantity (at most 100,000 units,
# `subsidy.filings.entries.MAX_QUANTITY`) and must fit a money column, NUMERIC(14,2).
RATE_MAX = Decimal("9999999.99")
RATE_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"


def _validate(data: dict, county: str) -> dict:
    fields: dict[str, str] = {}
    out: dict = {}
    try:
        out["name"] = single_line(data.get("name"), label="项目名称", limit=80)
    except ValueError as exc:
        fields["name"] = str(exc)
    out["year"] = parse_int(data.get("year"), YEAR_MIN, YEAR_MAX)
    if out["year"] is None:
        fields["year"] = f"年度应为 {YEAR_MIN}–{YEAR_MAX} 之间的年份"
    for key, enum_cls, message in (("category", Category, "类别应为 cash（现金）或 material（实物）"),
                                   ("unit", Unit, "单位应为 household、mu、head、person 或 item")):
        try:
            out[key] = enum_cls(data.get(key))
        except ValueError:
            fields[key] = message
    for key, label, minimum, maximum in (("rate", "补贴标准", Decimal("0.01"), RATE_MAX),
                                         ("budget", "预算", Decimal("0"), MONEY_MAX)):
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            fields[key] = f"请填写{label}"
            continue
        try:
            out[key] = parse_amount(value, label=label, minimum=minimum, maximum=maximum)
        except ValueError as exc:
            fields[key] = str(exc)
    out["publicity_days"] = parse_int(data.get("publicity_days", 7), 1, 60)
    if out["publicity_days"] is None:
        fields["publicity_days"] = "公示天数应为 1–60 天"
    try:
        out["fund_source"] = single_line(data.get("fund_source"), label="资金来源", limit=80, required=False)
    except ValueError as exc:
        fields["fund_source"] = str(exc)
    _goods(data, out, fields)
    if fields:
        raise ValidationError("项目信息有误", fields=fields)
    # Checked last: the unit must be valid before it is compared with the type's.
    row = catalogue.type_for_project(county, data.get("subsidy_type"), out["unit"])
    out["subsidy_type_id"] = row.id if row else None
    return out


def _goods(data: dict, out: dict, fields: dict) -> None:
    """A material project names its goods and their unit, and may price them (docs/design.md
    "Material subsidies"); a cash project has none of these."""
    if out.get("category") != Category.material:
        out.update(item=None, item_unit=None, unit_price=None)
        return
    for key, label, limit in (("item", "实物名称", 20), ("item_unit", "实物计量单位", 10)):
        try:
            out[key] = single_line(data.get(key), label=label, limit=limit, required=True)
        except ValueError as exc:
            fields[key] = str(exc)
    price = data.get("unit_price")
    if price is None or (isinstance(price, str) and not price.strip()):
        out["unit_price"] = None
        return
    try:
        out["unit_price"] = parse_amount(price, label="单价", minimum=Decimal("0"), maximum=RATE_MAX)
    except ValueError as exc:
        fields["unit_price"] = str(exc)


@requires(Perm.manage_projects)
def create_project(actor, **data) -> Project:
    county = county_only_code(actor)
    values = _validate(data, county)
    exists = db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(
        Project.county_code == county, Project.year == values["year"], Project.name == values["name"]))
    if exists:
        raise Conflict("本县同一年度已有同名项目", fields={"name": "本县同一年度已有同名项目"}, code="duplicate")
    project = Project(county_code=county, created_by=actor.id, **values)
    db.session.add(project)
    db.session.flush()
    audit.record(actor, "project.create", "project", project.id, region_code=county, **values)
    return project


@requires(Perm.manage_projects)
def update_project(actor, project_id: int, **data) -> Project:
    project = get_project(actor, project_id)
    values = _validate(data, project.county_code)
    before = {k: getattr(project, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    for key, value in changed.items():
        setattr(project, key, value)
    if changed:
        audit.record(actor, "project.update", "project", project.id, region_code=project.county_code,
                     before={k: before[k] for k in changed}, after=changed)
    return project


@requires(Perm.view_projects)
def get_project(actor, project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    # Projects belong to a county; everyone in that county, and in the city above it, may read
    # them.
    if project is None or not covers(county_scope(actor.region_code), project.county_code):
        raise NotFound("项目不存在")
    return project


@requires(Perm.manage_projects)
def project_for_edit(actor, project_id: int | None) -> Project | None:
    """The project to edit (None: a new one), if the actor may manage projects at all: the
    form is not even shown to those who may not submit it."""
    return get_project(actor, project_id) if project_id else None


@requires(Perm.view_projects)
def list_projects(actor, *, year: int | None = None, page=1, per_page=50) -> Page:
    stmt = sa.select(Project).where(within(Project.county_code, county_scope(actor.region_code)))
    if year:
        stmt = stmt.where(Project.year == year)
    return paginate(stmt.order_by(Project.year.desc(), Project.id), page, per_page)

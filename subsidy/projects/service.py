"""Subsidy projects: defined by the county admin, read by every tier of the county."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require
from subsidy.audit import service as audit
from subsidy.common.money import quantize, to_decimal
from subsidy.common.pagination import Page, paginate
from subsidy.errors import Conflict, NotFound, ValidationError
from subsidy.extensions import db
from subsidy.projects.models import Category, Project, Unit
from subsidy.regions.service import county_of


def _validate(data: dict) -> dict:
    fields: dict[str, str] = {}
    out: dict = {}
    name = (data.get("name") or "").strip()
    if not name:
        fields["name"] = "请填写项目名称"
    elif len(name) > 80:
        fields["name"] = "项目名称不超过 80 字"
    out["name"] = name
    try:
        out["year"] = int(data.get("year"))
        if not 2000 <= out["year"] <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        fields["year"] = "年度应为 2000–2100 之间的年份"
    for key, enum_cls, message in (("category", Category, "类别应为 cash（现金）或 material（实物）"),
                                   ("unit", Unit, "单位应为 household、mu、head、person 或 item")):
        try:
            out[key] = enum_cls(data.get(key))
        except ValueError:
            fields[key] = message
    for key, label, minimum in (("rate", "补贴标准", Decimal("0.01")), ("budget", "预算", Decimal("0"))):
        try:
            value = to_decimal(data.get(key))
            if value < minimum or value != quantize(value):
                raise ValueError
            out[key] = value
        except (TypeError, ValueError):
            fields[key] = f"{label}应为不小于 {minimum} 的金额，最多两位小数"
    try:
        out["publicity_days"] = int(data.get("publicity_days", 7))
        if not 1 <= out["publicity_days"] <= 60:
            raise ValueError
    except (TypeError, ValueError):
        fields["publicity_days"] = "公示天数应为 1–60 天"
    out["fund_source"] = (data.get("fund_source") or "").strip()[:80]
    if fields:
        raise ValidationError("项目信息有误", fields=fields)
    return out


def create_project(actor, **data) -> Project:
    require(actor, Perm.manage_projects)
    values = _validate(data)
    county = county_of(actor.region_code)
    exists = db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(
        Project.county_code == county, Project.year == values["year"], Project.name == values["name"]))
    if exists:
        raise Conflict("本县同一年度已有同名项目", fields={"name": "本县同一年度已有同名项目"}, code="duplicate")
    project = Project(county_code=county, created_by=actor.id, **values)
    db.session.add(project)
    db.session.flush()
    audit.record(actor, "project.create", "project", project.id, region_code=county, **values)
    return project


def update_project(actor, project_id: int, **data) -> Project:
    require(actor, Perm.manage_projects)
    project = get_project(actor, project_id)
    values = _validate(data)
    before = {k: getattr(project, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    for key, value in changed.items():
        setattr(project, key, value)
    if changed:
        audit.record(actor, "project.update", "project", project.id, region_code=project.county_code,
                     before={k: before[k] for k in changed}, after=changed)
    return project


def get_project(actor, project_id: int) -> Project:
    require(actor, Perm.view_projects)
    project = db.session.get(Project, project_id)
    # Projects belong to a county; everyone in that county may read them.
    if project is None or project.county_code != county_of(actor.region_code):
        raise NotFound("项目不存在")
    return project


def project_for_edit(actor, project_id: int | None) -> Project | None:
    """The project to edit (None: a new one), if the actor may manage projects at all: the
    form is not even shown to those who may not submit it."""
    require(actor, Perm.manage_projects)
    return get_project(actor, project_id) if project_id else None


def list_projects(actor, *, year: int | None = None, page=1, per_page=50) -> Page:
    require(actor, Perm.view_projects)
    stmt = sa.select(Project).where(Project.county_code == county_of(actor.region_code))
    if year:
        stmt = stmt.where(Project.year == year)
    return paginate(stmt.order_by(Project.year.desc(), Project.id), page, per_page)

"""The subsidy catalogue (docs/design.md "Subsidy catalogue"): kept by the city admin for its
prefecture, read by every staff role of the city (the same roles that read projects).

A region's catalogue is its prefecture's: the 4-digit ancestor of its code, by range as every
other scope (never `parent_code`). A county with no prefecture row above it has no catalogue, and
its projects simply name no type."""
from __future__ import annotations

import re

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.catalogue.models import CODE_PATTERN, SubsidyType
from subsidy.common.pagination import Page, paginate
from subsidy.common.text import single_line
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.projects.models import Project, Unit
from subsidy.regions.models import CODE_LENGTH, Level
from subsidy.regions.scope import covers, within

PREFECTURE_WIDTH = CODE_LENGTH[Level.prefecture]
NAME_MAX = 40
_CODE_RE = re.compile(CODE_PATTERN)
UNIT_MESSAGE = "补贴单位应为 household、mu、head、person 或 item"


def prefecture_of(code: str) -> str | None:
    """The prefecture whose catalogue a region uses (640425100201 → 6404); None above one."""
    return code[:PREFECTURE_WIDTH] if len(code) >= PREFECTURE_WIDTH else None


def _reading_scope(actor) -> str:
    """A user at or under a prefecture reads that prefecture's catalogue; one above it (a
    province) reads every catalogue under it."""
    return prefecture_of(actor.region_code) or actor.region_code


def _writer_city(actor) -> str:
    """Defence in depth below the permission: only a prefecture's own user writes its catalogue."""
    if len(actor.region_code) != PREFECTURE_WIDTH:
        raise PermissionDenied("补贴目录由市级管理员维护")
    return actor.region_code


def _validate(data: dict, *, with_code: bool) -> dict:
    fields: dict[str, str] = {}
    out: dict = {}
    if with_code:
        code = str(data.get("code") or "").strip()
        if not _CODE_RE.match(code):
            fields["code"] = "类型代码应为 2–20 位小写字母、数字或下划线（如 gengdi_baohu）"
        out["code"] = code
    try:
        out["name"] = single_line(data.get("name"), label="类型名称", limit=NAME_MAX)
    except ValueError as exc:
        fields["name"] = str(exc)
    try:
        out["unit"] = Unit(data.get("unit"))
    except ValueError:
        fields["unit"] = UNIT_MESSAGE
    if fields:
        raise ValidationError("补贴类型信息有误", fields=fields)
    return out


def _taken(city: str, column, value, except_id: int | None = None) -> bool:
    stmt = sa.select(sa.func.count()).select_from(SubsidyType).where(
        SubsidyType.prefecture_code == city, column == value)
    if except_id is not None:
        stmt = stmt.where(SubsidyType.id != except_id)
    return bool(db.session.scalar(stmt))


def _refuse_duplicates(city: str, values: dict, except_id: int | None = None) -> None:
    if "code" in values and _taken(city, SubsidyType.code, values["code"], except_id):
        raise Conflict("本市补贴目录中已有此类型代码", fields={"code": "类型代码已被使用"}, code="duplicate")
    if _taken(city, SubsidyType.name, values["name"], except_id):
        raise Conflict("本市补贴目录中已有同名类型", fields={"name": "类型名称已被使用"}, code="duplicate")


@requires(Perm.manage_subsidy_types)
def create_type(actor, **data) -> SubsidyType:
    city = _writer_city(actor)
    values = _validate(data, with_code=True)
    _refuse_duplicates(city, values)
    row = SubsidyType(prefecture_code=city, created_by=actor.id, **values)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "subsidy_type.create", "subsidy_type", row.id, region_code=city, **values)
    return row


@requires(Perm.manage_subsidy_types)
def update_type(actor, type_id: int, **data) -> SubsidyType:
    """Name and unit may change; the code may not (other systems and the API key on it). The
    unit may change only while no project names the type: its projects' amounts are per unit."""
    city = _writer_city(actor)
    row = get_type(actor, type_id)
    if row.prefecture_code != city:
        raise NotFound("补贴类型不存在")
    if data.get("code") not in (None, "", row.code):
        raise ValidationError("类型代码创建后不能修改", fields={"code": "类型代码创建后不能修改"})
    values = _validate(data, with_code=False)
    _refuse_duplicates(city, values, except_id=row.id)
    if values["unit"] != row.unit:
        used = db.session.scalar(sa.select(sa.func.count()).select_from(Project)
                                 .where(Project.subsidy_type_id == row.id))
        if used:
            raise Conflict(f"已有 {used} 个项目属于此类型，不能修改补贴单位",
                           fields={"unit": "已有项目属于此类型，不能修改补贴单位"}, code="in_use")
    before = {k: getattr(row, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        audit.record(actor, "subsidy_type.update", "subsidy_type", row.id, region_code=city,
                     before={k: before[k] for k in changed}, after=changed)
    return row


@requires(Perm.view_projects)
def get_type(actor, type_id) -> SubsidyType:
    try:
        row = db.session.get(SubsidyType, int(type_id))
    except (TypeError, ValueError):
        row = None
    if row is None or not covers(_reading_scope(actor), row.prefecture_code):
        raise NotFound("补贴类型不存在")
    return row


@requires(Perm.view_projects)
def list_types(actor, *, page=1, per_page=200) -> Page:
    stmt = (sa.select(SubsidyType).where(within(SubsidyType.prefecture_code, _reading_scope(actor)))
            .order_by(SubsidyType.prefecture_code, SubsidyType.id))
    return paginate(stmt, page, per_page)


@requires(Perm.view_projects)
def choices(actor) -> list[SubsidyType]:
    """The types a project of the actor's county may name (the project form's list)."""
    city = prefecture_of(actor.region_code)
    if city is None:
        return []
    return list(db.session.scalars(sa.select(SubsidyType).where(SubsidyType.prefecture_code == city)
                                   .order_by(SubsidyType.id)))


def type_for_project(county_code: str, code, unit: Unit | None) -> SubsidyType | None:
    """The catalogue entry a county's project names (None: no type), or a ValidationError.
    The type must be of the county's own prefecture (another city's code is "not in the
    catalogue", never "not yours": the answer does not depend on what other cities define) and
    pay by the project's unit."""
    code = str(code or "").strip()
    if not code:
        return None
    city = prefecture_of(county_code)
    row = db.session.scalar(sa.select(SubsidyType).where(SubsidyType.prefecture_code == city,
                                                         SubsidyType.code == code)) if city else None
    if row is None:
        raise ValidationError("补贴类型不在本市的补贴目录中",
                              fields={"subsidy_type": "请从本市补贴目录中选择补贴类型"})
    if unit is not None and row.unit != unit:
        message = f"补贴类型“{row.name}”按{row.unit.label}补贴，项目的补贴单位须与之相同"
        raise ValidationError(message, fields={"subsidy_type": message, "unit": message})
    return row

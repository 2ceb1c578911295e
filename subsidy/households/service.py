"""The household register: create, edit, search, always within the actor's region."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, require
from subsidy.audit import service as audit
from subsidy.common.pagination import Page, paginate
from subsidy.errors import Conflict, NotFound, ValidationError
from subsidy.households.columns import FIELDS
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.households.validation import clean_household
from subsidy.regions.models import Level
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.regions.service import find_region

REQUIRED = ("head_name", "id_number", "members")
AUDITED_FIELDS = FIELDS


def snapshot(household: Household) -> dict:
    return {f: getattr(household, f) for f in AUDITED_FIELDS}


def resolve_village(actor, region_code) -> str:
    """The village a household goes in: the clerk's own, or one under the actor's region."""
    if not region_code:
        if len(actor.region_code) == 12:
            return actor.region_code
        raise ValidationError("请选择村", fields={"region_code": "请选择所属村（12 位村代码）"})
    try:
        code = normalize_code(region_code)
    except ValidationError:
        raise ValidationError("村代码格式不正确", fields={"region_code": "村代码应为 12 位数字"}) from None
    region = find_region(code) if len(code) == 12 else None
    if region is None or region.level != Level.village:
        raise ValidationError("村代码不正确", fields={"region_code": "请填写一个村的 12 位代码"})
    ensure_visible(actor, code, "村")
    return code


def _id_taken(id_number: str, except_id: int | None = None) -> Household | None:
    stmt = sa.select(Household).where(Household.id_number == id_number)
    if except_id:
        stmt = stmt.where(Household.id != except_id)
    return db.session.scalar(stmt)


def create_household(actor, **data) -> Household:
    require(actor, Perm.edit_households)
    values, errors = clean_household(data)
    for field in REQUIRED:
        if field not in data and field not in errors:
            errors[field] = "必填"
    try:
        code = resolve_village(actor, data.get("region_code"))
    except ValidationError as exc:
        errors.update(exc.fields)
        code = None
    if errors:
        raise ValidationError("农户信息有误，请按提示修改", fields=errors)
    other = _id_taken(values["id_number"])
    if other is not None:
        where = "本村" if other.region_code == code else "其他村"
        raise Conflict(f"该身份证号已在{where}登记", fields={"id_number": f"该身份证号已在{where}登记，一人只能登记一户"},
                       code="duplicate")
    household = Household(region_code=code, **values)
    db.session.add(household)
    db.session.flush()
    audit.record(actor, "household.create", "household", household.id, region_code=code, after=snapshot(household))
    return household


def get_household(actor, household_id: int) -> Household:
    require(actor, Perm.view_register)
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound("农户不存在")
    ensure_visible(actor, household.region_code, "农户")
    return household


def update_household(actor, household_id: int, **data) -> Household:
    require(actor, Perm.edit_households)
    household = get_household(actor, household_id)
    values, errors = clean_household(data)
    if "region_code" in data and data["region_code"] and data["region_code"] != household.region_code:
        try:
            values["region_code"] = resolve_village(actor, data["region_code"])
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError("农户信息有误，请按提示修改", fields=errors)
    if "id_number" in values and _id_taken(values["id_number"], except_id=household.id):
        raise Conflict("该身份证号已登记为另一户", fields={"id_number": "该身份证号已登记为另一户"}, code="duplicate")
    before = snapshot(household)
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    for key, value in changed.items():
        setattr(household, key, value)
    if changed:
        db.session.flush()
        audit.record(actor, "household.update", "household", household.id, region_code=household.region_code,
                     before={k: before[k] for k in changed}, after=changed)
    return household


def search_statement(actor, region_code: str | None = None, q: str | None = None):
    """Households under the actor's region (narrowed to `region_code` if given), matching
    `q` by name, ID number or phone."""
    require(actor, Perm.view_register)
    code = actor.region_code
    if region_code:
        code = normalize_code(region_code)
        ensure_visible(actor, code, "行政区划")
    stmt = sa.select(Household).where(within(Household.region_code, code))
    q = (q or "").strip()
    if q:
        if q.isdigit() or q[:-1].isdigit():
            stmt = stmt.where(sa.or_(Household.id_number.startswith(q.upper()), Household.phone.startswith(q),
                                     Household.id_number.endswith(q.upper())))
        else:
            stmt = stmt.where(Household.head_name.contains(q))
    return stmt


def list_households(actor, *, region_code=None, q=None, page=1, per_page=50) -> Page:
    stmt = search_statement(actor, region_code, q).order_by(Household.region_code, Household.id)
    return paginate(stmt, page, per_page)


def villages_for_edit(actor) -> list:
    """The villages a household form may place a household in (the clerk's own village, or
    every village under a county admin); refuses users who may not edit the register."""
    from subsidy.regions.service import list_villages

    require(actor, Perm.edit_households)
    return list_villages(actor)

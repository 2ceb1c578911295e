"""The household register: create, edit, search, always within the actor's region."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from subsidy.accounts.models import User
from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.audit.models import AuditEvent
from subsidy.common.database import regardless
from subsidy.common.pagination import Page, paginate
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationError
from subsidy.extensions import db
from subsidy.households import moves
from subsidy.households.columns import FIELDS
from subsidy.households.models import Household
from subsidy.households.validation import clean_household
from subsidy.projects.models import Project
from subsidy.regions.models import Level
from subsidy.regions.scope import covers, ensure_visible, normalize_code, within
from subsidy.regions.service import county_of, find_region

ABOVE_COUNTY = (Level.province, Level.prefecture)

REQUIRED = ("head_name", "id_number", "members")
AUDITED_FIELDS = FIELDS
# The register's answer to a number registered in another village: it says that a transfer is
# needed and never where the number is (the register must not be an ID-number oracle). One text
# for another village of the county and for another county alike: which admin moves the
# household would otherwise say which county holds the number.
REGISTERED_ELSEWHERE = ("该身份证号不能在此登记：此人已在本平台登记为一户。"
                        "如已迁入，请由县级管理员办理迁户（跨县迁户由市级管理员办理），不能重复登记")
TRANSFER_WHO = "本县内迁户由县级管理员办理，跨县迁户由市级管理员办理"


# A phone or 一卡通 account that another household uses is said when it is saved (the
# filing's shared_account flag says it again, later, to the reviewers). Only a count, county-wide:
# the warning must not tell a clerk whose phone it is.
CONTACT_WARNINGS = {
    "phone": "手机号码与本县另外 {n} 户相同：请核实是否填错；短信和查询验证码都会发到这个号码",
    "payout_account": "一卡通账号与本县另外 {n} 户相同：补贴应发到本户自己的账户，请核实是否代领",
}


def shared_contacts(county: str, field: str, value: str | None = None) -> dict[str, int]:
    """{value: how many households of the county hold it} for the values of `field` (phone or
    payout_account) that more than one household holds; only `value`'s when given."""
    column = getattr(Household, field)
    stmt = (sa.select(column, sa.func.count()).where(within(Household.region_code, county[:6]), column.is_not(None),
                                                      column != "")
            .group_by(column).having(sa.func.count() > 1))
    if value is not None:
        stmt = stmt.where(column == value)
    return dict(db.session.execute(stmt).all())


def contact_warnings(household: Household) -> list[str]:
    """The CONTACT_WARNINGS of one saved household."""
    found = []
    for field, text in CONTACT_WARNINGS.items():
        value = getattr(household, field)
        holders = shared_contacts(household.region_code, field, value).get(value) if value else None
        if holders:
            found.append(text.format(n=holders - 1))
    return found


def snapshot(household: Household) -> dict:
    return {f: getattr(household, f) for f in AUDITED_FIELDS}


@exempt("a lookup for the services that place a household, which declare their own permission")
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


@exempt("records a refusal for the registering services, which declare edit_households themselves")
def note_elsewhere_hits(actor, id_numbers: list[str], *, source: str) -> None:
    """Numbers this actor tried to register that another village holds: audited (a clerk
    probing the register shows up for the supervisor) even though the attempt is refused, and
    limited to ID_ELSEWHERE_PER_HOUR answers per user (beyond it the answer is a 429)."""
    actor_id, region = actor.id, actor.region_code
    recent = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "household.id_elsewhere", AuditEvent.actor_id == actor_id,
        AuditEvent.at >= utcnow() - timedelta(hours=1)))
    hits = list(id_numbers)

    def write():
        audit.record(db.session.get(User, actor_id), "household.id_elsewhere", "household_probe", None,
                     region_code=region, source=source, count=len(hits), id_numbers=hits[:50])

    regardless(write)
    if recent + 1 > int(current_app.config["ID_ELSEWHERE_PER_HOUR"]):
        raise TooManyRequests("查询身份证号过于频繁，请稍后再试；如需迁户：" + TRANSFER_WHO)


def _refuse_taken(actor, other: Household, village: str | None, id_number: str):
    if other.region_code == village:
        return Conflict("该身份证号已在本村登记",
                        fields={"id_number": f"该身份证号已在本村登记（户主 {other.head_name}），一人只能登记一户"},
                        code="duplicate")
    note_elsewhere_hits(actor, [id_number], source="form")
    return Conflict(REGISTERED_ELSEWHERE, fields={"id_number": REGISTERED_ELSEWHERE}, code="duplicate")


@requires(Perm.edit_households)
def create_household(actor, **data) -> Household:
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
        raise _refuse_taken(actor, other, code, values["id_number"])
    household = Household(region_code=code, **values)
    db.session.add(household)
    db.session.flush()
    audit.record(actor, "household.create", "household", household.id, region_code=code, after=snapshot(household))
    household.contact_warnings = contact_warnings(household)
    return household


NOT_HERE = "农户不存在或不在您的管辖范围内"


@requires(Perm.view_register)
def get_household(actor, household_id: int) -> Household:
    """The household if it lives under the actor's region, or once lived under it and the actor
    is at the county or above (`moves.reads_history`: its old county reads its whole file after
    a transfer); else 404. A reader only: edits take `household_for_edit`."""
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound(NOT_HERE)
    if not covers(actor.region_code, household.region_code) and not moves.reads_history(actor, household.id):
        raise NotFound(NOT_HERE)
    return household


def _current(actor, household_id: int) -> Household:
    """The household for a change: only where it lives now. A county it left reads it (403 to
    change it, since it may see it); anyone else gets the 404 of `get_household`."""
    household = get_household(actor, household_id)
    if not covers(actor.region_code, household.region_code):
        raise PermissionDenied("本户已迁出您的辖区：只能由现所在的村、县修改或迁户")
    return household


@requires(Perm.edit_households)
def household_for_edit(actor, household_id: int) -> Household:
    """The household as its edit form shows it: where it lives now only (see `_current`)."""
    return _current(actor, household_id)


@requires(Perm.edit_households)
def update_household(actor, household_id: int, **data) -> Household:
    household = _current(actor, household_id)
    values, errors = clean_household(data)
    if data.get("region_code") and data["region_code"] != household.region_code:
        errors["region_code"] = "迁户不能通过修改办理：请使用“迁户”（" + TRANSFER_WHO + "），迁户记录留档"
    if errors:
        raise ValidationError("农户信息有误，请按提示修改", fields=errors)
    if "id_number" in values:
        other = _id_taken(values["id_number"], except_id=household.id)
        if other is not None:
            raise _refuse_taken(actor, other, household.region_code, values["id_number"])
    before = snapshot(household)
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    for key, value in changed.items():
        setattr(household, key, value)
    if changed:
        db.session.flush()
        audit.record(actor, "household.update", "household", household.id, region_code=household.region_code,
                     before={k: before[k] for k in changed}, after=changed)
    household.contact_warnings = contact_warnings(household)
    return household


@requires(Perm.transfer_households)
def transfer_household(actor, household_id: int, region_code, reason: str) -> Household:
    """迁户 (docs/design.md "Household register"): a household that moved to another village is
    moved, never registered again, so that its subsidies, payments and cases stay with it. The
    county admin moves within its county, the city admin across the counties of its city (a
    county admin is shown no other county's village, and asking for one is a 404). Refused,
    with nothing changed, while a filing that lists the household is still under review (the
    village must first take it off its list, or the county decide); a move across counties
    also while an entry of the household is held or a recovery is open (`moves.refuse_left_behind`).
    Writes the move (`household_moves`) and an audit event on each side."""
    from subsidy.filings.models import Entry, Filing, FilingState

    household = _current(actor, household_id)
    why = (reason or "").strip()
    if not why:
        raise ValidationError("请填写迁户原因", fields={"reason": "请填写迁户原因（如：婚迁、户籍迁移）"})
    if len(why) > 200:
        raise ValidationError("迁户原因太长", fields={"reason": "不超过 200 字"})
    try:
        target = resolve_village(actor, region_code)
    except NotFound:
        raise NotFound("迁入的村不存在或不在您的管辖范围内：" + TRANSFER_WHO,
                       fields={"region_code": "只能迁入您辖区内的村（" + TRANSFER_WHO + "）"}) from None
    if target == household.region_code:
        raise ValidationError("迁入村与现在的村相同", fields={"region_code": "请选择迁入的村"})
    source = household.region_code
    across = county_of(target) != county_of(source)
    if across and actor.tier not in ABOVE_COUNTY:  # scope already refuses it; said once more here
        raise PermissionDenied("跨县迁户由市级管理员办理")
    # One move at a time per household (PostgreSQL; SQLite writers are serialised already).
    db.session.execute(sa.select(Household.id).where(Household.id == household.id).with_for_update())
    pending = db.session.execute(
        sa.select(Filing.id, Project.name).join(Entry, Entry.filing_id == Filing.id)
        .join(Project, Project.id == Filing.project_id)
        .where(Entry.household_id == household.id,
               Filing.state.in_([FilingState.draft, FilingState.publicizing, FilingState.village_filed,
                                 FilingState.township_approved]))).first()
    if pending is not None:
        raise Conflict(f"该户在“{pending.name}”的备案（编号 {pending.id}）中尚未县级审定，"
                       "请原村先从名单中移除或待审定后再迁户",
                       code="listed_in_open_filing")
    if across:
        moves.refuse_left_behind(household)
    household.region_code = target
    db.session.flush()
    moves.record_move(actor, household, source, target, why)
    return household


@exempt("a question, not an act: an empty list for those who may not transfer")
def transfer_targets(actor, household: Household) -> list[tuple[str | None, list]]:
    """The villages the actor may move `household` to, as (county name, villages) groups: one
    group (name None) for a county admin, its county's villages; one per county for a city
    admin. Empty when the actor may not move this household (no permission, or it lives
    outside the actor's region now)."""
    from subsidy.accounts.permissions import can
    from subsidy.regions.models import Region
    from subsidy.regions.service import list_villages

    if not can(actor, Perm.transfer_households) or not covers(actor.region_code, household.region_code):
        return []
    villages = [v for v in list_villages(actor) if v.code != household.region_code]
    if actor.tier not in ABOVE_COUNTY:
        return [(None, villages)] if villages else []
    counties = dict(db.session.execute(sa.select(Region.code, Region.name).where(
        within(Region.code, actor.region_code), Region.level == Level.county)).all())
    groups: dict[str, list] = {}
    for village in villages:
        groups.setdefault(county_of(village.code), []).append(village)
    return [(counties.get(code, code), members) for code, members in groups.items()]


@requires(Perm.view_register)
def search_statement(actor, region_code: str | None = None, q: str | None = None):
    """Households under the actor's region (narrowed to `region_code` if given), matching
    `q` by name, ID number or phone."""
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


@requires(Perm.view_register)
def list_households(actor, *, region_code=None, q=None, page=1, per_page=50) -> Page:
    stmt = search_statement(actor, region_code, q).order_by(Household.region_code, Household.id)
    return paginate(stmt, page, per_page)


@requires(Perm.edit_households)
def villages_for_edit(actor) -> list:
    """The villages a household form may place a household in (the clerk's own village, or
    every village under a county admin); refuses users who may not edit the register."""
    from subsidy.regions.service import list_villages

    return list_villages(actor)


FILE_ROWS = 200  # rows of each kind on a household's page (a household has a few a year)


@requires(Perm.view_register)
def household_file(actor, household_id: int) -> dict:
    """一户一档: a household with its entries by project and year (amount, the filing's state),
    its payments, its cases, its SMS messages and its moves. The household is found as
    `get_household` finds it (its region, or a county it left; else 404); its records follow it
    across a transfer (docs/design.md "Household register"), so each row says whether its page
    (filing, batch, message, case) is in the actor's region (`linked`, `case_links`); cases are
    those the actor may see (a complaint about the actor's own region stays hidden,
    docs/design.md "Cases"), and for a county or city supervisor also the household's cases
    outside its range (the county it moved to or from), bar complaints about a county's staff.
    `editable`: the household lives under the actor's region (a county it left only reads)."""
    from subsidy.accounts.permissions import can
    from subsidy.cases.models import Case
    from subsidy.cases.queries import is_visible, visible_condition
    from subsidy.filings.models import Entry, Filing
    from subsidy.notify.models import Message
    from subsidy.payments.models import Payment
    from subsidy.regions.models import Region

    household = get_household(actor, household_id)
    mine = within(Filing.region_code, actor.region_code)
    entries = db.session.execute(
        sa.select(Entry.id.label("entry_id"), Filing.id.label("filing_id"), Filing.state.label("state"),
                  Project.name.label("project"), Project.year.label("year"), Project.unit.label("unit"),
                  Entry.quantity.label("quantity"), Entry.amount.label("amount"), Region.name.label("village"),
                  mine.label("linked"))
        .join(Filing, Filing.id == Entry.filing_id).join(Project, Project.id == Filing.project_id)
        .join(Region, Region.code == Filing.region_code)
        .where(Entry.household_id == household.id)
        .order_by(Project.year.desc(), Project.name, Entry.id).limit(FILE_ROWS)).all()
    from subsidy.filings.holds import held_entries

    out = {"household": household, "entries": entries, "payments": [], "cases": [], "messages": [],
           "held": held_entries(e.entry_id for e in entries), "case_links": set(),
           "moves": moves.moves_of(household.id), "editable": covers(actor.region_code, household.region_code)}
    if can(actor, Perm.view_payments):
        out["payments"] = db.session.execute(
            sa.select(Payment.id, Payment.batch_id, Payment.disbursement_id, Payment.amount, Payment.status,
                      Payment.failure_reason, Payment.result_at, Payment.receipt, Payment.created_at,
                      Project.name.label("project"), Project.year.label("year"),
                      within(Payment.region_code, actor.region_code).label("linked"))
            .join(Project, Project.id == Payment.project_id)
            .where(Payment.household_id == household.id)
            .order_by(Payment.id.desc()).limit(FILE_ROWS)).all()
    if can(actor, Perm.view_cases):
        seen = visible_condition(actor)
        if actor.role in moves.CASE_TRAIL_ROLES and moves.history_tier(actor) and out["moves"]:
            # the household's cases in another county, about a village or township (a complaint
            # about a county's own staff is the city's, and stays with it)
            elsewhere = sa.and_(sa.not_(within(Case.region_code, actor.region_code)),
                                sa.not_(within(Case.assigned_region_code, actor.region_code)),
                                sa.func.length(Case.region_code) > moves.COUNTY_WIDTH)
            seen = sa.or_(seen, elsewhere)
        out["cases"] = list(db.session.scalars(
            sa.select(Case).where(Case.household_id == household.id, seen)
            .order_by(Case.received_at.desc(), Case.id.desc()).limit(FILE_ROWS)))
        out["case_links"] = {c.id for c in out["cases"] if is_visible(actor, c)}
    if can(actor, Perm.view_sms):
        # The body as the outbox keeps it: a sign-in code is sealed and shows masked.
        out["messages"] = db.session.execute(
            sa.select(Message.id, Message.template, Message.body, Message.to_phone, Message.status,
                      Message.error_message, Message.created_at,
                      within(Message.region_code, actor.region_code).label("linked"))
            .where(Message.household_id == household.id)
            .order_by(Message.id.desc()).limit(FILE_ROWS)).all()
    return out

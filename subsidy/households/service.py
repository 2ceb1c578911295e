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
from subsidy.errors import Conflict, NotFound, TooManyRequests, ValidationError
from subsidy.extensions import db
from subsidy.households.columns import FIELDS
from subsidy.households.models import Household
from subsidy.households.validation import clean_household
from subsidy.projects.models import Project
from subsidy.regions.models import Level
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.regions.service import find_region

REQUIRED = ("head_name", "id_number", "members")
AUDITED_FIELDS = FIELDS
# The register's answer to a number registered in another village: it says that a transfer is
# needed and never where the number is (the register must not be an ID-number oracle).
REGISTERED_ELSEWHERE = ("该身份证号不能在此登记：此人已在本平台登记为一户。"
                        "如已迁入，请由县级管理员办理迁户（不能重复登记）")


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
        raise TooManyRequests("查询身份证号过于频繁，请稍后再试；如需迁户请联系县级管理员")


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


@requires(Perm.view_register)
def get_household(actor, household_id: int) -> Household:
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound("农户不存在")
    ensure_visible(actor, household.region_code, "农户")
    return household


@requires(Perm.edit_households)
def update_household(actor, household_id: int, **data) -> Household:
    household = get_household(actor, household_id)
    values, errors = clean_household(data)
    if data.get("region_code") and data["region_code"] != household.region_code:
        errors["region_code"] = "迁户不能通过修改办理：请由县级管理员使用“迁户”，迁户记录留档"
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
    """迁户 (docs/design.md §6): a household that moved to another village is moved, never registered
    again, so that its subsidies, payments and cases stay with it. The county admin moves within
    the county. Refused while a filing that lists the household is still under review in its
    old village (the village must first take it off its list, or the county decide)."""
    from subsidy.filings.models import Entry, Filing, FilingState

    household = get_household(actor, household_id)
    why = (reason or "").strip()
    if not why:
        raise ValidationError("请填写迁户原因", fields={"reason": "请填写迁户原因（如：婚迁、户籍迁移）"})
    if len(why) > 200:
        raise ValidationError("迁户原因太长", fields={"reason": "不超过 200 字"})
    target = resolve_village(actor, region_code)
    if target == household.region_code:
        raise ValidationError("迁入村与现在的村相同", fields={"region_code": "请选择迁入的村"})
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
    source = household.region_code
    household.region_code = target
    db.session.flush()
    audit.record(actor, "household.transfer", "household", household.id, region_code=target, source=source,
                 target=target, reason=why)
    audit.record(actor, "household.transfer_out", "household", household.id, region_code=source, source=source,
                 target=target, reason=why)
    return household


@exempt("a question, not an act: an empty list for those who may not transfer")
def transfer_targets(actor, household: Household) -> list:
    """The villages the actor may move `household` to (none when the actor may not move it)."""
    from subsidy.accounts.permissions import can
    from subsidy.regions.service import list_villages

    if not can(actor, Perm.transfer_households):
        return []
    return [v for v in list_villages(actor) if v.code != household.region_code]


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
    its payments, its cases and its SMS messages. The household is found in the actor's region
    (else 404); its records follow it across a transfer (docs/design.md "Household register"),
    so each row says whether its page (filing, batch, message) is in the actor's region
    (`linked`); cases are those the actor may see (a complaint about the actor's own region
    stays hidden, docs/design.md "Cases")."""
    from subsidy.accounts.permissions import can
    from subsidy.cases.models import Case
    from subsidy.cases.queries import visible_condition
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
           "held": held_entries(e.entry_id for e in entries)}
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
        out["cases"] = list(db.session.scalars(
            sa.select(Case).where(Case.household_id == household.id, visible_condition(actor))
            .order_by(Case.received_at.desc(), Case.id.desc()).limit(FILE_ROWS)))
    if can(actor, Perm.view_sms):
        # The body as the outbox keeps it: a sign-in code is sealed and shows masked.
        out["messages"] = db.session.execute(
            sa.select(Message.id, Message.template, Message.body, Message.to_phone, Message.status,
                      Message.error_message, Message.created_at,
                      within(Message.region_code, actor.region_code).label("linked"))
            .where(Message.household_id == household.id)
            .order_by(Message.id.desc()).limit(FILE_ROWS)).all()
    return out

"""Cases: receive, accept, reply, transfer, reject, rate (docs/design.md "Cases").

Staff functions take the acting user first and declare the permission the table's rows name
(`workflow.perm_of`), then check the region; the farmer's functions (`submit_case`,
`rate_case`) are for the mobile pages and take a proof of who the farmer is instead. State
changes go through `subsidy.cases.workflow` (its MACHINE). Nothing here commits."""
from __future__ import annotations

import contextlib
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.cases import routing, workflow
from subsidy.cases.calendar import WorkCalendar, local_date, start_of_local_day
from subsidy.cases.deadlines import days_for
from subsidy.cases.models import (
    FINDING_KINDS,
    KIND_PREFIX,
    UNSATISFIED,
    Case,
    CaseCounter,
    CaseEvent,
    CaseKind,
    CaseState,
    Channel,
    EventKind,
    Finding,
    Rating,
)
from subsidy.cases.queries import get_case, is_visible
from subsidy.cases.workflow import EXCLUDED_STATES, OPEN_STATES, Action, perm_of
from subsidy.common.database import plain_rows, upsert_insert
from subsidy.common.text import clean_multiline, single_line
from subsidy.common.timeutil import utcnow
from subsidy.errors import NotFound, TooManyRequests, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.households.validation import check_phone
from subsidy.notify import outbox
from subsidy.regions.models import Region
from subsidy.regions.scope import county_scope, covers, normalize_code

STAFF_CHANNELS = (Channel.phone, Channel.visit, Channel.sms)
MAX_SUBJECT, MAX_BODY, MAX_REASON = 100, 5000, 1000
FARMER = "农户"


# ---------------------------------------------------------------- settings and numbers


def next_ref_no(kind: CaseKind, year: int) -> str:
    """ZX-2017-000123: the next number of this kind and year. One atomic UPDATE … RETURNING
    on the counter row (created on first use, ON CONFLICT DO NOTHING when two receipts race
    to create it), so concurrent receipts never share a number."""
    bump = (sa.update(CaseCounter).where(CaseCounter.kind == kind, CaseCounter.year == year)
            .values(last=CaseCounter.last + 1).returning(CaseCounter.last)
            .execution_options(synchronize_session=False))
    number = db.session.execute(bump).scalar()
    if number is None:
        db.session.execute(upsert_insert(CaseCounter).values(kind=kind, year=year, last=0)
                           .on_conflict_do_nothing(index_elements=["kind", "year"]))
        number = db.session.execute(bump).scalar()
    return f"{KIND_PREFIX[kind]}-{year}-{number:06d}"


# ---------------------------------------------------------------- receiving


def _text(value, field: str, label: str, limit: int, required: bool = True, multiline: bool = False) -> str:
    """A subject or name is one line, refused with a control or invisible character in it; a body
    keeps its line breaks and loses such characters (`subsidy.common.text`)."""
    if not multiline:
        return single_line(value, label=label, limit=limit, required=required)
    text = clean_multiline(value)
    if required and not text:
        raise ValueError(f"请填写{label}")
    if len(text) > limit:
        raise ValueError(f"{label}不超过 {limit} 字")
    return text


def _enum(enum_cls, value, label: str):
    if isinstance(value, enum_cls):
        return value
    try:
        return enum_cls(value)
    except ValueError:
        raise ValueError(f"{label}不正确") from None


def _clean(data: dict, channels, phone_required: bool = True) -> tuple[dict, dict[str, str]]:
    values, errors = {}, {}
    checks = {
        "kind": lambda v: _enum(CaseKind, v, "诉求类别"),
        "channel": lambda v: _enum(Channel, v, "受理渠道"),
        "subject": lambda v: _text(v, "subject", "标题", MAX_SUBJECT),
        "body": lambda v: _text(v, "body", "诉求内容", MAX_BODY, multiline=True),
        "contact_name": lambda v: _text(v, "contact_name", "联系人姓名", 40, required=False),
        "contact_phone": lambda v: check_phone(v, required=phone_required),
    }
    for field, check in checks.items():
        try:
            values[field] = check(data.get(field))
        except ValueError as exc:
            errors[field] = str(exc)
    if "channel" in values and values["channel"] not in channels:
        errors["channel"] = "受理渠道不正确：工作人员登记的诉求为电话、来访或短信"
    return values, errors


def _concerned_region(region_code, errors: dict) -> Region | None:
    try:
        code = normalize_code(region_code)
    except ValidationError:
        errors["region_code"] = "请选择诉求涉及的村或乡镇"
        return None
    region = db.session.get(Region, code)
    if region is None:
        errors["region_code"] = "行政区划不存在"
    return region


def _objection_target(entry_id, region: Region | None, errors: dict) -> str | None:
    """The village of the filing whose entry is objected to; the filing must be publicized."""
    from subsidy.filings.models import Entry, Filing, FilingState

    row = db.session.execute(
        sa.select(Filing.region_code, Filing.state).join(Entry, Entry.filing_id == Filing.id)
        .where(Entry.id == entry_id)
    ).first() if entry_id else None
    if row is None:
        errors["entry_id"] = "请指明对公示名单中哪一户提出异议" if not entry_id else "公示名单中没有这一条"
        return None
    if row.state != FilingState.publicizing:
        errors["entry_id"] = "该名单不在公示期内，不能提出异议"
    if region is not None and region.code != row.region_code:
        errors["region_code"] = "异议的村与公示名单所在的村不一致"
    return row.region_code


def _receive(actor, data: dict, channels, *, now: datetime | None = None, assigned_to: str | None = None,
             phone_required: bool = True, audit_detail: dict | None = None, by=None) -> Case:
    now = now or utcnow()
    values, errors = _clean(data, channels, phone_required)
    kind = values.get("kind")
    region = None
    if kind == CaseKind.objection:
        if data.get("region_code"):
            region = _concerned_region(data.get("region_code"), errors)
        village = _objection_target(data.get("entry_id"), region, errors)
        if village is not None and region is None:
            region = db.session.get(Region, village)
    else:
        region = _concerned_region(data.get("region_code"), errors)
        if data.get("entry_id") and assigned_to is None:
            errors["entry_id"] = "只有异议可以关联公示名单"
    if actor is not None and region is not None and not covers(county_scope(actor.region_code), region.code):
        errors["region_code"] = "只能登记本县的诉求"
    household_id = data.get("household_id") or None
    if household_id is not None:
        household = db.session.get(Household, household_id)
        if household is None or (region is not None and household.region_code[:6] != region.code[:6]):
            errors["household_id"] = "农户不存在"
    assigned = assigned_to
    if assigned is None and kind is not None and region is not None and "region_code" not in errors:
        try:
            assigned = routing.route(kind, region)
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError("诉求信息有误，请按提示修改", fields=errors)

    days = days_for(region.code, kind)
    due = WorkCalendar(region.code).reckon(now, days)  # never refused: provisional past the calendar
    case = Case(ref_no=next_ref_no(kind, local_date(now).year), kind=kind, channel=values["channel"],
                state=CaseState.received, region_code=region.code, household_id=household_id,
                entry_id=data.get("entry_id") if kind == CaseKind.objection or assigned_to else None,
                contact_name=values["contact_name"], contact_phone=values["contact_phone"],
                subject=values["subject"], body=values["body"], assigned_region_code=assigned,
                received_at=now, clock_from=now, due_days=days, due_at=due.at, due_provisional=due.provisional,
                created_by=getattr(actor, "id", None))
    db.session.add(case)
    db.session.flush()
    db.session.add(CaseEvent(case_id=case.id, kind=EventKind.received, at=now, actor_id=getattr(actor, "id", None),
                             actor_name=getattr(actor, "name", None) or FARMER, to_state=CaseState.received.value,
                             to_region_code=assigned,
                             note=f"{case.channel_label}受理，期限 {days} 个工作日"
                             + ("（暂定）" if due.provisional else "")))
    audit.record(actor or by, "case.receive", "case", case.id, region_code=case.region_code, ref_no=case.ref_no,
                 kind=kind.value, channel=case.channel.value, assigned=assigned, due_at=due.at,
                 due_provisional=due.provisional,
                 **({} if actor else {"by": "farmer"}), **(audit_detail or {}))
    return case


def _farmers_cases_today(phone: str | None, household_id, now: datetime) -> int:
    """Cases received today (China day) from this phone or this household, merged ones too."""
    start = start_of_local_day(local_date(now))
    same = []
    if phone:
        same.append(Case.contact_phone == phone)
    if household_id:
        same.append(Case.household_id == household_id)
    if not same:
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(
        Case.channel == Channel.mobile, Case.received_at >= start, sa.or_(*same)))


def _check_farmer_flood(data: dict, now: datetime) -> None:
    """A confirmed phone is not a licence to flood: at most CASES_PER_FARMER_PER_DAY cases a day
    from one phone or one household (one phone once filed 8 objections and 5 complaints in a
    second, and 9 open objections then blocked the village's filing). Staff-recorded cases are
    not limited."""
    limit = int(current_app.config["CASES_PER_FARMER_PER_DAY"])
    phone = None
    with contextlib.suppress(ValueError):  # the form check reports it
        phone = check_phone(data.get("contact_phone"))
    if _farmers_cases_today(phone, data.get("household_id"), now) >= limit:
        raise TooManyRequests(f"今天已提交 {limit} 件诉求，请明天再提交；急事请直接拨打乡镇电话。"
                              "您填写的内容仍在页面上。")


def _repeated_objection(case: Case) -> Case | None:
    """The earlier open objection by the same phone or household to the same entry, if any."""
    who = [Case.contact_phone == case.contact_phone] if case.contact_phone else []
    if case.household_id:
        who.append(Case.household_id == case.household_id)
    if case.kind != CaseKind.objection or not who:
        return None
    return db.session.scalar(sa.select(Case).where(
        Case.kind == CaseKind.objection, Case.entry_id == case.entry_id, Case.id != case.id,
        Case.state.in_(OPEN_STATES), sa.or_(*who)).order_by(Case.id).limit(1))


@requires(Perm.record_cases)
def record_case(actor, **data) -> Case:
    """A case taken by staff on the phone, at the office, or from a farmer's text message."""
    return _receive(actor, data, STAFF_CHANNELS)


def submit_case(*, by=None, **data) -> Case:
    """A case a farmer sends from the mobile page. `household_id` when signed in; `by`: the
    farmer (subsidy.common.actors.Farmer) it is audited under. A repeated objection to the same
    entry is kept and merged at once into the farmer's earlier one (nothing sent is lost, and
    it neither blocks the filing twice nor counts twice)."""
    data = dict(data, channel=Channel.mobile)
    _check_farmer_flood(data, utcnow())
    case = _receive(None, data, (Channel.mobile,), by=by)
    earlier = _repeated_objection(case)
    if earlier is not None:
        _merge(case, earlier, actor=None, actor_name="系统", note="同一农户对同一条名单的重复异议，自动合并")
    return case


def open_receipt_complaint(*, region_code: str, subject: str, body: str, phone: str | None,
                           household_id: int | None = None, entry_id: int | None = None,
                           payment_id: int | None = None, by=None, detail: dict | None = None) -> Case:
    """A farmer's 没有收到 on a paid subsidy (the payments area's receipt check), or 没有领到 on
    recorded goods (the materials area's): a complaint about the village's payment or pickup,
    handled by the county, which disburses. Linked to the entry; the phone may be missing (the
    household then hears back through the village)."""
    return _receive(None, {"kind": CaseKind.complaint, "channel": Channel.mobile, "region_code": region_code,
                           "subject": subject[:MAX_SUBJECT], "body": body, "contact_phone": phone,
                           "household_id": household_id, "entry_id": entry_id},
                    (Channel.mobile,), assigned_to=region_code[:6], phone_required=False,
                    audit_detail={"payment_id": payment_id, "source": "receipt_denied", **(detail or {})}, by=by)


# ---------------------------------------------------------------- handling


def _handled_case(actor, case_id: int, action: Action) -> Case:
    """A case the actor may take `action` on (the handling unit, or a unit above it), else
    404 or 403, before what they sent or the case's state is looked at."""
    case = get_case(actor, case_id)
    workflow.admit(actor, case, action)
    return case


def _reason(value, label: str = "原因", field: str = "reason", limit: int = MAX_REASON) -> str:
    try:
        return _text(value, field, label, limit, multiline=True)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={field: str(exc)}) from None


@requires(perm_of(Action.accept))
def accept_case(actor, case_id: int, note: str = "") -> Case:
    case = _handled_case(actor, case_id, Action.accept)
    now = utcnow()
    workflow.apply(case, Action.accept, actor=actor, note=note or "", now=now, values={"accepted_at": now})
    audit.record(actor, "case.accept", "case", case.id, region_code=case.region_code)
    return case


@requires(perm_of(Action.reply))
def reply_case(actor, case_id: int, body: str, finding: str | None = None) -> Case:
    """答复 = 办结: the case is completed; late if after its deadline; the farmer gets an SMS.
    A complaint or objection is closed with its finding (核查结论, docs/design.md "Cases"): 属实, 部分属实 or
    不属实; an inquiry has none."""
    case = _handled_case(actor, case_id, Action.reply)
    text = _reason(body, "答复内容", "body", MAX_BODY)
    conclusion = _finding(case, finding)
    now = utcnow()
    worked = WorkCalendar(case.region_code).working_days_between(local_date(case.received_at), local_date(now))
    workflow.apply(case, Action.reply, actor=actor, note=text, now=now, values={
        "replied_at": now, "reply_body": text, "completed_late": now > case.due_at, "reply_working_days": worked,
        "accepted_at": case.accepted_at or now, "finding": conclusion,
    })
    reply_no = case.reopen_count + 1
    # Filed under the handling unit, never the region the case is about: the SMS list of an
    # accused village must not show who complained about it (nor who objected to its list).
    outbox.enqueue("case_replied", key=f"case_replied:{case.id}:{reply_no}", phone=case.contact_phone,
                   region_code=case.assigned_region_code, context={"ref_no": case.ref_no},
                   household_id=case.household_id, case_id=case.id)
    audit.record(actor, "case.reply", "case", case.id, region_code=case.region_code, late=case.completed_late,
                 reply_no=reply_no, finding=conclusion.value if conclusion else None)
    return case


def _finding(case: Case, value: str | None) -> Finding | None:
    if case.kind not in FINDING_KINDS:
        if value:
            raise ValidationError("咨询不填写核查结论", fields={"finding": "咨询不填写核查结论"})
        return None
    message = f"{case.kind.label}答复时须选择核查结论：属实、部分属实或不属实"
    if not value:
        raise ValidationError(message, fields={"finding": message})
    try:
        return Finding(value)
    except ValueError:
        raise ValidationError(message, fields={"finding": message}) from None


@requires(perm_of(Action.transfer))
def transfer_case(actor, case_id: int, region_code: str | None, reason: str) -> Case:
    case = _handled_case(actor, case_id, Action.transfer)
    why = _reason(reason)
    if not region_code:
        raise ValidationError("请选择转办单位", fields={"region_code": "请选择转办单位"})
    try:
        target = db.session.get(Region, normalize_code(region_code))
    except ValidationError:
        target = None
    if target is None:
        raise ValidationError("转办单位不存在", fields={"region_code": "行政区划不存在"})
    routing.check_transfer(case, target)
    source = case.assigned_region_code
    escalated_to = routing.tier_above(target.code) if case.escalated_to_code else None
    workflow.apply(case, Action.transfer, actor=actor, note=why, from_region=source, to_region=target.code,
                   values={"assigned_region_code": target.code, "escalated_to_code": escalated_to})
    audit.record(actor, "case.transfer", "case", case.id, region_code=case.region_code, source=source,
                 target=target.code, reason=why)
    return case


@requires(perm_of(Action.reject))
def reject_case(actor, case_id: int, reason: str) -> Case:
    """不予受理: spam, duplicate, not a matter for the platform. Excluded from every rate."""
    case = _handled_case(actor, case_id, Action.reject)
    why = _reason(reason)
    now = utcnow()
    workflow.apply(case, Action.reject, actor=actor, note=why, now=now,
                   values={"reject_reason": why, "closed_at": now})
    audit.record(actor, "case.reject", "case", case.id, region_code=case.region_code, reason=why)
    return case


def _merge(case: Case, into: Case, *, actor, actor_name: str | None = None, note: str) -> None:
    now = utcnow()
    workflow.apply(case, Action.merge, actor=actor, actor_name=actor_name, note=f"并入 {into.ref_no}：{note}", now=now,
                   values={"merged_into_id": into.id, "closed_at": now})
    outbox.enqueue("case_merged", key=f"case_merged:{case.id}", phone=case.contact_phone,
                   region_code=case.assigned_region_code, context={"ref_no": case.ref_no, "into": into.ref_no},
                   household_id=case.household_id, case_id=case.id)
    audit.record(actor, "case.merge", "case", case.id, region_code=case.region_code, into=into.id,
                 into_ref_no=into.ref_no, note=note)


@requires(perm_of(Action.merge))
def merge_case(actor, case_id: int, into, reason: str) -> Case:
    """合并: the handling unit closes a duplicate by merging it into the earlier case it repeats
    (docs/design.md "Cases"): same kind (an objection, the same entry), received earlier, still standing.
    The merged case counts in no rate, and its farmer is told which number answers it."""
    case = _handled_case(actor, case_id, Action.merge)
    why = _reason(reason)
    target = _find_case(actor, into)
    if target.id == case.id:
        raise ValidationError("不能与自身合并", fields={"into": "请填写另一件诉求的编号"})
    if (target.kind, target.entry_id if target.kind == CaseKind.objection else None) != \
            (case.kind, case.entry_id if case.kind == CaseKind.objection else None):
        raise ValidationError("只能合并同类诉求（异议须针对名单中的同一户）", fields={"into": "两件诉求不是同一事项"})
    if (target.received_at, target.id) > (case.received_at, case.id):
        raise ValidationError("只能并入更早受理的诉求",
                              fields={"into": f"{target.ref_no} 晚于本件受理，请在该件上合并"})
    if target.state in EXCLUDED_STATES:
        raise ValidationError("目标诉求已不予受理或已被合并",
                              fields={"into": f"{target.ref_no} 为“{target.state_label}”"})
    _merge(case, target, actor=actor, note=why)
    return case


def _find_case(actor, ref) -> Case:
    """A case the actor may see, by its id or its reference number (ZX-2017-000123)."""
    text = str(ref or "").strip().upper()
    if text.isdigit():
        return get_case(actor, int(text))
    found = db.session.scalar(sa.select(Case.id).where(Case.ref_no == text)) if text else None
    if found is None:
        raise ValidationError("没有这个编号的诉求", fields={"into": "请填写要并入的诉求编号"})
    return get_case(actor, found)


# ---------------------------------------------------------------- rating


def parse_rating(value) -> Rating:
    """A rating given as its code (satisfied) or its label (满意)."""
    if isinstance(value, Rating):
        return value
    for rating in Rating:
        if value in (rating.value, str(rating.label)):
            return rating
    raise ValidationError("请选择评价", fields={"rating": "评价应为：非常满意、满意、基本满意、不满意、非常不满意"})


def _apply_rating(case: Case, rating, reason, *, actor, actor_name: str, by=None) -> Case:
    rating = parse_rating(rating)
    now = utcnow()
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise ValidationError("原因太长", fields={"reason": f"不超过 {MAX_REASON} 字"})
    label = rating.label
    rated = {"rating": rating, "rating_reason": reason or None, "rated_at": now}
    if rating in UNSATISFIED:
        if not reason:
            raise ValidationError("请说明不满意的原因", fields={"reason": "请说明不满意的原因，以便重新办理"})
        workflow.check(case, Action.reopen)
        # Reopened to the same unit with a fresh limit counted from today (the old deadline
        # has usually passed; the farmer's new round deserves the full time).
        due = WorkCalendar(case.region_code).reckon(now, case.due_days)
        db.session.add(CaseEvent(case_id=case.id, kind=EventKind.rated, at=now, actor_id=getattr(actor, "id", None),
                                 actor_name=actor_name, note=f"{label}：{reason}"))
        workflow.apply(case, Action.reopen, actor=actor, actor_name=actor_name, note=reason, now=now, values={
            **rated, "reopen_count": Case.reopen_count + 1, "clock_from": now, "due_at": due.at,
            "due_provisional": due.provisional,
            "overdue_at": None, "escalated_to_code": None, "completed_late": False,
        })
    else:
        workflow.apply(case, Action.close_rated, actor=actor, actor_name=actor_name,
                       note=label + (f"：{reason}" if reason else ""), now=now, values={**rated, "closed_at": now})
    audit.record(actor or by, "case.rate", "case", case.id, region_code=case.region_code, rating=rating.value,
                 reopened=rating in UNSATISFIED, **({} if actor else {"by": "farmer"}))
    return case


def rate_case(case: Case | int, rating, reason: str | None = None, *, household_id: int | None = None,
              phone: str | None = None, by=None) -> Case:
    """The farmer's rating from the mobile page. The farmer proves the case is theirs
    by the household they signed in as, or the phone number their SMS code went to; a case
    that is not theirs is answered as not found."""
    if not isinstance(case, Case):
        case = db.session.get(Case, case)
    if case is None:
        raise NotFound("诉求不存在")
    owns = (household_id is not None and case.household_id == household_id) or (
        phone is not None and case.contact_phone is not None and case.contact_phone == phone)
    if not owns:
        raise NotFound("诉求不存在")
    return _apply_rating(case, rating, reason, actor=None, actor_name=FARMER, by=by)


@requires(perm_of(Action.close_rated, Action.reopen))
def record_rating(actor, case_id: int, rating, reason: str | None = None) -> Case:
    """A rating taken by staff on a return call (回访). Not by the handling unit itself:
    a unit does not grade its own reply (the rows' guard)."""
    case = get_case(actor, case_id)
    workflow.admit(actor, case, Action.close_rated)
    return _apply_rating(case, rating, reason, actor=actor, actor_name=actor.name)


# ---------------------------------------------------------------- objections and farmers' lists


def count_open_objections(filing_id: int) -> int:
    """Open objections (received or in progress) on the entries of a filing: the filing's
    村级备案 is refused while this is above 0 (docs/design.md "Cases", objections and filings)."""
    from subsidy.filings.models import Entry

    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Case).join(Entry, Entry.id == Case.entry_id)
        .where(Entry.filing_id == filing_id, Case.kind == CaseKind.objection, Case.state.in_(OPEN_STATES))
    )


def objections_for_filing(filing_id: int) -> list[Case]:
    """Every objection on a filing's entries with its reply, for the filing's review page."""
    from subsidy.filings.models import Entry

    return list(db.session.scalars(
        sa.select(Case).join(Entry, Entry.id == Case.entry_id)
        .where(Entry.filing_id == filing_id, Case.kind == CaseKind.objection)
        .order_by(Case.received_at, Case.id)
    ))


def open_objection_refs(filing_id: int) -> list[str]:
    """The reference numbers of the open objections on a filing's entries (for the refusal of
    its 村级备案, which names them)."""
    from subsidy.filings.models import Entry

    return list(db.session.scalars(
        sa.select(Case.ref_no).join(Entry, Entry.id == Case.entry_id)
        .where(Entry.filing_id == filing_id, Case.kind == CaseKind.objection, Case.state.in_(OPEN_STATES))
        .order_by(Case.received_at, Case.id)))


# "My subsidies" shows a farmer's cases on every view, and most households have none: plain
# columns from statements built once, not Case objects with their regions joined and their
# events loaded one case at a time.
_FARMER_CASES = (
    sa.select(Case.id, Case.ref_no, Case.kind, Case.subject, Case.body, Case.state, Case.received_at, Case.due_at,
              Case.due_provisional, Case.replied_at, Case.reply_body, Case.rating, Region.name, Case.finding)
    .join(Region, Region.code == Case.assigned_region_code)
    .where(sa.or_(Case.household_id == sa.bindparam("household_id"), Case.contact_phone == sa.bindparam("phone")))
    .order_by(Case.received_at.desc()).limit(100))
_FARMER_REPLIES = (
    sa.select(CaseEvent.case_id, CaseEvent.at, CaseEvent.note)
    .where(CaseEvent.case_id.in_(sa.bindparam("case_ids", expanding=True)), CaseEvent.kind == EventKind.replied)
    .order_by(CaseEvent.id))


def cases_for_farmer(household_id: int | None, phone: str | None) -> tuple[list[sa.Row], dict[int, list[sa.Row]]]:
    """A farmer's own cases for "my cases" on the mobile page: the household's and
    those sent from its confirmed number (a None parameter matches nothing), newest first, as
    rows (… , the assigned unit's name), with their replies (at, note) by case id."""
    if household_id is None and not phone:
        return [], {}
    rows = plain_rows(_FARMER_CASES, {"household_id": household_id, "phone": phone or None}).all()
    replies: dict[int, list[sa.Row]] = {}
    if rows:
        for case_id, at, note in plain_rows(_FARMER_REPLIES, {"case_ids": [r.id for r in rows]}):
            replies.setdefault(case_id, []).append((at, note))
    return rows, replies


@exempt("a question on a case the actor just recorded: may they see it now")
def case_visible_to(actor, case: Case) -> bool:
    return is_visible(actor, case)

"""Staff operations on SMS (the staff pages, opt-outs): lists of messages, the
village clerk's resend once a phone is fixed, opt-outs (退订), the county's pause switch and
its outbox figures. Services check permission and scope, audit, and flush; never commit."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.database import local_day
from subsidy.common.pagination import Page, paginate
from subsidy.common.timeutil import local_today, utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.households.validation import check_phone
from subsidy.notify.gateways import FIX_PHONE_CODES
from subsidy.notify.models import Message, MessageStatus, OptOut, SendingControl
from subsidy.notify.outbox import enqueue_text
from subsidy.notify.templates import NOT_RESENDABLE
from subsidy.regions.scope import ensure_visible, normalize_code, within

S = MessageStatus
PROBLEM_STATUSES = (S.failed, S.cancelled, S.undelivered)


def _scope_code(actor, region_code: str | None) -> str:
    """The actor's region, or a region under it they asked for."""
    if not region_code:
        return actor.region_code
    code = normalize_code(region_code)
    ensure_visible(actor, code, "行政区划")
    return code


def parse_status(value: str | None) -> MessageStatus | None:
    if not value:
        return None
    try:
        return MessageStatus(value)
    except ValueError:
        raise ValidationError("短信状态不正确", fields={"status": "应为 " + "、".join(s.value for s in S)}) from None


@requires(Perm.view_sms)
def list_messages(actor, *, region_code=None, status=None, template=None, household_id=None,
                  page=1, per_page=50) -> Page:
    stmt = sa.select(Message).where(within(Message.region_code, _scope_code(actor, region_code)))
    status = parse_status(status) if isinstance(status, str) or status is None else status
    if status is not None:
        stmt = stmt.where(Message.status == status)
    if template:
        stmt = stmt.where(Message.template == template)
    if household_id:
        stmt = stmt.where(Message.household_id == int(household_id))
    return paginate(stmt.order_by(Message.id.desc()), page, per_page)


@requires(Perm.view_sms)
def problem_messages(actor, *, region_code=None, page=1, per_page=50) -> Page:
    """Messages that were not sent and not yet resent: what the village clerk has to fix."""
    stmt = (sa.select(Message)
            .where(within(Message.region_code, _scope_code(actor, region_code)),
                   Message.status.in_(PROBLEM_STATUSES), Message.replaced_by_id.is_(None),
                   Message.template.not_in(NOT_RESENDABLE))
            .order_by(Message.region_code, Message.id.desc()))
    return paginate(stmt, page, per_page)


@requires(Perm.view_sms)
def get_message(actor, message_id: int) -> Message:
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound("短信不存在")
    ensure_visible(actor, message.region_code, "短信")
    return message


def households_by_id(ids) -> dict[int, Household]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))}


def opted_out_among(phones) -> set[str]:
    phones = {p for p in phones if p}
    if not phones:
        return set()
    return set(db.session.scalars(sa.select(OptOut.phone).where(OptOut.phone.in_(phones))))


@requires(Perm.handle_sms)
def resend_message(actor, message_id: int) -> Message:
    """Owe the farmer the same text again, as a new message (new key), once whatever stopped
    the first one is fixed: the household's phone corrected, the attempts exhausted."""
    message = get_message(actor, message_id)
    if (message.status not in PROBLEM_STATUSES or message.replaced_by_id is not None
            or message.template in NOT_RESENDABLE):
        raise Conflict("这条短信不需要重发", code="not_resendable")
    household = db.session.get(Household, message.household_id) if message.household_id else None
    phone = household.phone if household is not None else message.to_phone
    region_code = household.region_code if household is not None else message.region_code
    if not phone:
        raise ValidationError("该户没有手机号码，请先补录手机号码", fields={"phone": "请先补录手机号码"})
    if opted_out_among([phone]):
        raise Conflict("该号码已退订短信，不能重发", code="opted_out")
    if message.error_code in FIX_PHONE_CODES and phone == message.to_phone:
        raise Conflict("手机号码还未修改，请先修改农户的手机号码再重发", code="phone_unchanged")
    key = f"{message.key.split('#r')[0][:100]}#r{message.id}"
    if not enqueue_text(message.template, message.body, key=key, phone=phone, region_code=region_code,
                        household_id=message.household_id, entry_id=message.entry_id, case_id=message.case_id):
        raise Conflict("这条短信已重发", code="already_resent")
    new = db.session.scalar(sa.select(Message).where(Message.key == key))
    message.replaced_by_id = new.id
    db.session.flush()
    audit.record(actor, "sms.resend", "sms_message", message.id, region_code=region_code,
                 new_message_id=new.id, phone=phone, previous_phone=message.to_phone, reason=message.error_code)
    return new


# --- opt-outs -------------------------------------------------------------------------------

def _clean_phone(phone) -> str:
    try:
        return check_phone(phone, required=True)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"phone": str(exc)}) from None


def _opt_out_region(actor, phone: str) -> str:
    """Where an opt-out of `phone` belongs: the village of a household in the actor's region
    that uses it. County staff may also record a number that is in no register at all."""
    in_scope = db.session.scalar(sa.select(Household.region_code).where(
        Household.phone == phone, within(Household.region_code, actor.region_code)).limit(1))
    if in_scope:
        return in_scope
    anywhere = db.session.scalar(sa.select(sa.func.count()).select_from(Household).where(Household.phone == phone))
    if anywhere or len(actor.region_code) != 6:
        raise NotFound("您的辖区内没有使用该号码的农户")
    return actor.region_code


@requires(Perm.handle_sms)
def record_opt_out(actor, phone, note: str = "") -> OptOut:
    phone = _clean_phone(phone)
    region_code = _opt_out_region(actor, phone)
    existing = db.session.get(OptOut, phone)
    if existing is not None:
        return existing
    opt_out = OptOut(phone=phone, source="staff", note=(note or "").strip()[:255], created_by=actor.id)
    db.session.add(opt_out)
    db.session.flush()
    audit.record(actor, "sms.opt_out", "sms_opt_out", phone, region_code=region_code, note=opt_out.note)
    return opt_out


@requires(Perm.handle_sms)
def remove_opt_out(actor, phone) -> None:
    """The farmer asked to receive texts again."""
    phone = _clean_phone(phone)
    region_code = _opt_out_region(actor, phone)
    opt_out = db.session.get(OptOut, phone)
    if opt_out is None:
        raise NotFound("该号码没有退订记录")
    db.session.delete(opt_out)
    db.session.flush()
    audit.record(actor, "sms.opt_in", "sms_opt_out", phone, region_code=region_code, source=opt_out.source)


@requires(Perm.view_sms)
def list_opt_outs(actor, *, page=1, per_page=50) -> tuple[Page, dict[str, list[Household]]]:
    """Opt-outs of numbers used by households in the actor's region (county staff also see
    numbers in no register), with those households."""
    in_scope = sa.exists().where(Household.phone == OptOut.phone, within(Household.region_code, actor.region_code))
    cond = in_scope
    if len(actor.region_code) == 6:
        cond = sa.or_(in_scope, ~sa.exists().where(Household.phone == OptOut.phone))
    result = paginate(sa.select(OptOut).where(cond).order_by(OptOut.created_at.desc()), page, per_page)
    phones = [o.phone for o in result.items]
    households: dict[str, list[Household]] = {}
    if phones:
        for h in db.session.scalars(sa.select(Household).where(
                Household.phone.in_(phones), within(Household.region_code, actor.region_code))):
            households.setdefault(h.phone, []).append(h)
    return result, households


# --- pause and resume ------------------------------------------------------------------------

def is_paused(county_code: str) -> bool:
    return bool(db.session.scalar(
        sa.select(SendingControl.paused).where(SendingControl.county_code == county_code[:6])))


@requires(Perm.manage_sms)
def set_paused(actor, paused: bool) -> SendingControl:
    """The county stops (or resumes) all sending, e.g. after a wrong broadcast. Messages stay
    queued while paused; the worker skips them and checks again before each send."""
    if len(actor.region_code) != 6:
        raise PermissionDenied("只有县级可以暂停或恢复短信发送")
    control = db.session.get(SendingControl, actor.region_code)
    if control is None:
        control = SendingControl(county_code=actor.region_code, paused=False)
        db.session.add(control)
    if control.paused == paused:
        return control
    control.paused, control.changed_at, control.changed_by = paused, utcnow(), actor.id
    db.session.flush()
    queued = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        within(Message.region_code, actor.region_code), Message.status == S.queued))
    audit.record(actor, "sms.pause" if paused else "sms.resume", "sms_control", actor.region_code,
                 region_code=actor.region_code, queued=queued)
    return control


# --- the county's outbox ----------------------------------------------------------------------

@requires(Perm.view_sms)
def outbox_overview(actor, *, region_code=None, days: int = 14) -> dict:
    """Counts by status, by day (China time) and by template, set-based (GROUP BY)."""
    code = _scope_code(actor, region_code)
    scope = within(Message.region_code, code)
    by_status = {s: 0 for s in S}
    counts = sa.select(Message.status, sa.func.count()).where(scope).group_by(Message.status)
    for status, n in db.session.execute(counts):
        by_status[status] = n
    since = utcnow() - timedelta(days=days)
    day = local_day(Message.created_at).label("day")
    by_day: dict[str, dict] = {}
    for d, status, n in db.session.execute(
            sa.select(day, Message.status, sa.func.count()).where(scope, Message.created_at >= since)
            .group_by(day, Message.status)):
        by_day.setdefault(str(d), {s: 0 for s in S})[status] = n
    by_template: dict[str, dict] = {}
    for template, status, n in db.session.execute(
            sa.select(Message.template, Message.status, sa.func.count()).where(scope)
            .group_by(Message.template, Message.status)):
        by_template.setdefault(template, {s: 0 for s in S})[status] = n
    figures = db.session.execute(sa.select(
        sa.func.count().filter(Message.provider_calls > 1),
        sa.func.coalesce(sa.func.sum(Message.provider_calls - 1).filter(Message.provider_calls > 1), 0),
        sa.func.coalesce(
            sa.func.sum(Message.segments).filter(Message.status.in_((S.sent, S.delivered, S.undelivered))), 0),
    ).where(scope)).one()
    from subsidy.notify.outbox import signature_for
    from subsidy.notify.templates import samples

    return {
        "region_code": code, "today": local_today().isoformat(), "by_status": by_status,
        "templates": samples(signature_for(code)),
        "by_day": dict(sorted(by_day.items(), reverse=True)), "by_template": dict(sorted(by_template.items())),
        "duplicate_messages": figures[0], "duplicate_calls": figures[1], "segments_sent": figures[2],
        "paused": is_paused(code), "problems": by_status[S.failed] + by_status[S.cancelled],
    }


def send_test(phone, text: str, region_code: str | None = None) -> Message:
    """`flask sms send PHONE TEXT`: owe one test message (the shell is the actor)."""
    from uuid import uuid4

    from subsidy.notify.outbox import enqueue
    from subsidy.regions.models import Level, Region

    phone = _clean_phone(phone)
    text = (text or "").strip()
    if not text:
        raise ValidationError("短信内容不能为空", fields={"text": "短信内容不能为空"})
    if region_code:
        code = normalize_code(region_code)
        if db.session.get(Region, code) is None:
            raise NotFound("行政区划不存在")
    else:
        code = db.session.scalar(sa.select(Household.region_code).where(Household.phone == phone).limit(1)) or \
            db.session.scalar(sa.select(Region.code).where(Region.level == Level.county).order_by(Region.code).limit(1))
        if not code:
            raise ValidationError("没有任何行政区划，请用 --region 指定", fields={"region": "请指定区划"})
    household_id = db.session.scalar(sa.select(Household.id).where(Household.phone == phone).limit(1))
    message = enqueue("test", key=f"test:{uuid4().hex}", phone=phone, region_code=code,
                      context={"body": text}, household_id=household_id)
    audit.record(None, "sms.test", "sms_message", message.id, region_code=code, phone=phone)
    return message

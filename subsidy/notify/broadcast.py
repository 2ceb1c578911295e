"""群发通知: the county admin's notice to every household of a county, township or village.
Preview (text, characters, segments, recipients, cost), then on
confirmation one message per household with a valid, not opted-out phone, written by ONE
`INSERT … SELECT` (50,000 households in well under a second of SQL, no ORM object per row).
Households without a phone or with an opted-out one are counted in the preview and skipped:
a broadcast is not an entitlement, so they do not clutter the clerk's list of failures."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.pagination import Page, paginate
from subsidy.common.text import clean_multiline
from subsidy.common.timeutil import utcnow
from subsidy.errors import NotFound, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.notify.models import Broadcast, Message, MessageStatus, OptOut
from subsidy.notify.outbox import signature_for
from subsidy.notify.templates import render, segment_count
from subsidy.regions.models import Region
from subsidy.regions.scope import ensure_visible, normalize_code, within

TEMPLATE = "broadcast"
MAX_BODY = 300  # characters typed; the signature comes on top
M = Message.__table__


@dataclass
class Preview:
    region: Region
    body: str
    text: str
    characters: int
    segments_each: int
    households: int
    recipients: int
    no_phone: int
    opted_out: int

    @property
    def total_segments(self) -> int:
        return self.recipients * self.segments_each


@requires(Perm.broadcast_sms)
def check_may_broadcast(actor) -> None:
    """403 unless `actor` may send a notice (the form's page asks before showing it)."""


def _clean(actor, region_code, body) -> tuple[Region, str]:
    errors = {}
    body = clean_multiline(body)  # a phone shows no control or invisible characters; line breaks stay
    if not body:
        errors["body"] = "请填写通知内容"
    elif len(body) > MAX_BODY:
        errors["body"] = f"通知内容不超过 {MAX_BODY} 字（现 {len(body)} 字）"
    region = None
    try:
        code = normalize_code(region_code)
        region = db.session.get(Region, code)
        if region is None:
            errors["region_code"] = "行政区划不存在"
    except ValidationError:
        errors["region_code"] = "行政区划代码格式不正确"
    if errors:
        raise ValidationError("群发通知填写有误", fields=errors)
    ensure_visible(actor, region.code, "行政区划")
    return region, body


def _usable_phone():
    return sa.and_(Household.phone.is_not(None), sa.func.length(Household.phone) == 11,
                   ~sa.exists().where(OptOut.phone == Household.phone))


@requires(Perm.broadcast_sms)
def preview_broadcast(actor, region_code, body) -> Preview:
    region, body = _clean(actor, region_code, body)
    text = render(TEMPLATE, signature_for(region.code), {"body": body})
    has_phone = sa.and_(Household.phone.is_not(None), sa.func.length(Household.phone) == 11)
    opted = sa.exists().where(OptOut.phone == Household.phone)
    total, with_phone, opted_out = db.session.execute(sa.select(
        sa.func.count(), sa.func.count().filter(has_phone), sa.func.count().filter(sa.and_(has_phone, opted)),
    ).where(within(Household.region_code, region.code))).one()
    return Preview(region=region, body=body, text=text, characters=len(text), segments_each=segment_count(text),
                   households=total, recipients=with_phone - opted_out, no_phone=total - with_phone,
                   opted_out=opted_out)


@requires(Perm.broadcast_sms)
def create_broadcast(actor, region_code, body) -> Broadcast:
    preview = preview_broadcast(actor, region_code, body)
    if preview.recipients == 0:
        raise ValidationError("该区域没有可以接收短信的农户", fields={"region_code": "没有可以接收短信的农户"})
    now = utcnow()
    broadcast = Broadcast(region_code=preview.region.code, body=preview.body, text=preview.text,
                          segments_each=preview.segments_each, messages=0, created_by=actor.id, created_at=now)
    db.session.add(broadcast)
    db.session.flush()
    when = sa.literal(now, M.c.created_at.type)
    select = sa.select(
        (sa.literal(f"broadcast:{broadcast.id}:") + sa.cast(Household.id, sa.String)),
        sa.literal(TEMPLATE), sa.literal(preview.text), sa.literal(preview.segments_each),
        Household.phone, Household.region_code, Household.id, sa.literal(broadcast.id),
        sa.literal(MessageStatus.queued.value), sa.literal(0), sa.literal(0), when, when,
    ).where(within(Household.region_code, preview.region.code), _usable_phone())
    db.session.execute(sa.insert(M).from_select(
        ["key", "template", "body", "segments", "to_phone", "region_code", "household_id", "broadcast_id",
         "status", "attempts", "provider_calls", "next_attempt_at", "created_at"], select))
    # Counted, not taken from rowcount: psycopg reports -1 for INSERT … SELECT through SQLAlchemy.
    inserted = db.session.scalar(sa.select(sa.func.count()).select_from(M).where(M.c.broadcast_id == broadcast.id))
    broadcast.messages = inserted
    db.session.flush()
    audit.record(actor, "sms.broadcast", "sms_broadcast", broadcast.id, region_code=preview.region.code,
                 messages=inserted, segments_each=preview.segments_each, text=preview.text)
    return broadcast


@requires(Perm.view_sms)
def list_broadcasts(actor, *, page=1, per_page=20) -> Page:
    stmt = sa.select(Broadcast).where(within(Broadcast.region_code, actor.region_code)).order_by(Broadcast.id.desc())
    return paginate(stmt, page, per_page)


@requires(Perm.view_sms)
def get_broadcast(actor, broadcast_id: int) -> tuple[Broadcast, dict]:
    broadcast = db.session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise NotFound("群发通知不存在")
    ensure_visible(actor, broadcast.region_code, "群发通知")
    counts = {s: 0 for s in MessageStatus}
    for status, n in db.session.execute(sa.select(Message.status, sa.func.count())
                                        .where(Message.broadcast_id == broadcast.id).group_by(Message.status)):
        counts[status] = n
    return broadcast, counts

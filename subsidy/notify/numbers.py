"""The `sms` block of `/api/v1/stats/summary` (API.md; DESIGN.md 短信通知率 target 100%).

For everything under `region_code` whose message was created in `year` (China time):

- households_due: households owed at least one message. Every message the platform owes a
  household for a subsidy event counts (filing approval, payment, case reply, …); broadcasts
  (群发通知), sign-in codes and shell test messages do not, as nobody is *owed* them. A household without a
  phone still owes a (failed, "无手机号码") message, so it counts as due and not notified.
- households_notified: of those, households with at least one such message sent or delivered.
- notification_rate = notified ÷ due.
- delivered_rate = delivered ÷ (sent + delivered + undelivered), over every message including
  broadcasts: it measures the network, not the entitlement.
- messages: counts by status of every message (broadcasts included).

Rates are rounded to 3 decimals, null when the denominator is 0. Scope is the caller's job
(the stats service checks the actor may see `region_code`)."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from subsidy.common.timeutil import CHINA_TZ
from subsidy.extensions import db
from subsidy.notify.models import Message, MessageStatus
from subsidy.regions.scope import within

S = MessageStatus
NOT_OWED_TEMPLATES = ("broadcast", "test", "login_code")


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def year_bounds(year: int) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ).astimezone(timezone.utc)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ).astimezone(timezone.utc)
    return start, end


def sms_summary(region_code: str, year: int) -> dict:
    start, end = year_bounds(int(year))
    base = sa.and_(within(Message.region_code, region_code), Message.created_at >= start, Message.created_at < end)
    owed = sa.and_(base, Message.template.not_in(NOT_OWED_TEMPLATES), Message.household_id.is_not(None))
    due, notified = db.session.execute(sa.select(
        sa.func.count(sa.distinct(Message.household_id)),
        sa.func.count(sa.distinct(Message.household_id)).filter(Message.status.in_((S.sent, S.delivered))),
    ).where(owed)).one()
    messages = {s.value: 0 for s in S}
    for status, n in db.session.execute(sa.select(Message.status, sa.func.count()).where(base).group_by(Message.status)):
        messages[status.value] = n
    reached = messages["sent"] + messages["delivered"] + messages["undelivered"]
    return {
        "households_due": due,
        "households_notified": notified,
        "notification_rate": rate(notified, due),
        "delivered_rate": rate(messages["delivered"], reached),
        "messages": messages,
    }

"""The `sms` block of `/api/v1/stats/summary` (docs/api.md; docs/design.md 短信通知率 target 100%).

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

from datetime import UTC, datetime

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
    start = datetime(year, 1, 1, tzinfo=CHINA_TZ).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA_TZ).astimezone(UTC)
    return start, end


def _owed():
    return sa.and_(Message.template.not_in(NOT_OWED_TEMPLATES), Message.household_id.is_not(None))


def _block(messages: dict[str, int], due: int, notified: int) -> dict:
    reached = messages["sent"] + messages["delivered"] + messages["undelivered"]
    return {
        "households_due": due,
        "households_notified": notified,
        "notification_rate": rate(notified, due),
        "delivered_rate": rate(messages["delivered"], reached),
        "messages": messages,
    }


def empty_summary() -> dict:
    return _block({s.value: 0 for s in S}, 0, 0)


def sms_figures(region_code: str, year: int, width: int, *, total: bool = True) -> tuple[dict[str, dict], dict | None]:
    """The block for every region of code length `width` under `region_code` (townships,
    villages, or the counties of a province), and with `total` the block of `region_code`
    itself, from ONE pass over the year's messages: ({code: block}, total). Regions without
    messages are absent.

    The pass reads only the index ix_sms_messages_region_household (region_code, household_id,
    created_at, status, template), in its order: the inner query folds each (village,
    household) run into one row as it goes (no hash or sort of every message), the outer adds
    those rows up per region.
    Counts by status add up; households do not quite (a household that moved within the year
    is one household in the total and one in each region it had messages in), so they are
    counted distinct per region and again, de-duplicated, for the total."""
    start, end = year_bounds(int(year))
    owed = _owed()
    inner = (sa.select(Message.region_code.label("v"), Message.household_id.label("h"),
                       *[sa.func.count().filter(Message.status == st).label(st.value) for st in S],
                       sa.func.count().filter(owed).label("o"),
                       sa.func.count().filter(owed, Message.status.in_((S.sent, S.delivered))).label("nt"))
             .where(within(Message.region_code, region_code), Message.created_at >= start, Message.created_at < end)
             .group_by(Message.region_code, Message.household_id))
    whole = total and width != len(region_code)
    # Read twice (the regions, then the total) only when a total over several regions is due;
    # otherwise a plain subquery, which PostgreSQL may scan in parallel.
    inner = inner.cte("per_household") if whole else inner.subquery("per_household")
    columns = [*[sa.func.sum(inner.c[st.value]) for st in S],
               sa.func.count(sa.distinct(sa.case((inner.c.o > 0, inner.c.h)))),
               sa.func.count(sa.distinct(sa.case((inner.c.nt > 0, inner.c.h))))]
    key = sa.func.substr(inner.c.v, 1, width)
    stmt = sa.select(key, *columns).group_by(key)
    if whole:
        stmt = sa.union_all(stmt, sa.select(sa.literal(None, sa.String), *columns))
    groups, found_total = {}, None
    for k, *figures in db.session.execute(stmt):
        if figures[0] is None:  # the total of no message at all
            continue
        messages = {st.value: int(n) for st, n in zip(S, figures, strict=False)}
        block = _block(messages, int(figures[-2]), int(figures[-1]))
        if k is None:
            found_total = block
        else:
            groups[k] = block
    if not total:
        return groups, None
    if whole:
        return groups, found_total or empty_summary()
    return groups, groups.get(region_code) or empty_summary()


def sms_summary(region_code: str, year: int) -> dict:
    return sms_figures(region_code, year, len(region_code))[1]


def households_notified(region_code: str, start: datetime, end: datetime, width: int) -> dict[str, tuple[int, int]]:
    """{code: (households_due, households_notified)} for every region of code length `width`
    under `region_code`, for the messages created in [start, end): the `sms` block's two
    household counts (same meaning, see the module) over any period, e.g. a quarter for the
    city's assessment. One GROUP BY; regions without an owed message are absent."""
    owed = _owed()
    key = sa.func.substr(Message.region_code, 1, width)
    stmt = (sa.select(key, sa.func.count(sa.distinct(sa.case((owed, Message.household_id)))),
                      sa.func.count(sa.distinct(sa.case((sa.and_(owed, Message.status.in_((S.sent, S.delivered))),
                                                         Message.household_id)))))
            .where(within(Message.region_code, region_code), Message.created_at >= start, Message.created_at < end,
                   owed)
            .group_by(key))
    return {k: (int(due), int(notified)) for k, due, notified in db.session.execute(stmt)}

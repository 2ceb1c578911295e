"""The transition table of an SMS message: the only code that changes `Message.status`.

    queued ──claim──▶ sending ──accepted──▶ sent ──reported_delivered──▶ delivered
      ▲                 │ ↺ reclaim (its lease expired: the worker died)
      └─retry, release──┤                   sent ──reported_undelivered / _failed / _canceled──▶
                        ├──give_up──▶ failed                    undelivered / failed / cancelled
                        └──opt_out──▶ cancelled

    queued or sending ──reported_sent──▶ sent, and ──reported_(any final)──▶ as from sent

The provider's reports (status callbacks, look-ups of stuck messages) move a message forward
only: a report may land on a message we still hold as queued or sending (a call we saw time
out, whose callback arrives first: the message adopts the sid and is not sent again), but a
final status is never overwritten.

A message is born queued, failed ("无手机号码") or cancelled ("已退订") by the outbox's INSERT;
`INITIAL` names those. Every later change is an UPDATE built here, by `update(event, …)`:
its WHERE holds the source states the table allows for the event (so a set-based UPDATE, or
two callbacks racing, change only rows the table allows) and its SET the target state. Each
such statement carries the execution option `sms_transition`, which `guard` checks: the tests
install it, and any UPDATE of `sms_messages.status` made without this module fails them.
"""
from __future__ import annotations

import enum
import re

import sqlalchemy as sa

from subsidy.errors import InvalidTransition
from subsidy.notify.models import Message, MessageStatus

M = Message.__table__
S = MessageStatus


class Event(enum.Enum):
    claim = "claim"                    # a worker leases a due message
    reclaim = "reclaim"                # … or one whose worker's lease expired (it died)
    release = "release"                # handed back unsent (county paused, worker stopping)
    accepted = "accepted"              # the provider accepted our call
    retry = "retry"                    # a transient error: queued again, with backoff
    give_up = "give_up"                # permanent error, attempts exhausted, no phone
    opt_out = "opt_out"                # the number opted out (our list, or the provider's 21610)
    reported_sent = "reported_sent"    # provider reports: callbacks and look-ups
    reported_delivered = "reported_delivered"
    reported_undelivered = "reported_undelivered"
    reported_failed = "reported_failed"
    reported_canceled = "reported_canceled"


E = Event
_BEFORE_PROVIDER = (S.queued, S.sending)
_NOT_FINAL = (S.queued, S.sending, S.sent)

# event -> (source states, target state). Anything else is refused.
TABLE: dict[Event, tuple[tuple[MessageStatus, ...], MessageStatus]] = {
    E.claim: ((S.queued,), S.sending),
    E.reclaim: ((S.sending,), S.sending),
    E.release: ((S.sending,), S.queued),
    E.accepted: ((S.sending,), S.sent),
    E.retry: ((S.sending,), S.queued),
    E.give_up: ((S.sending,), S.failed),
    E.opt_out: ((S.sending,), S.cancelled),
    E.reported_sent: (_BEFORE_PROVIDER, S.sent),
    E.reported_delivered: (_NOT_FINAL, S.delivered),
    E.reported_undelivered: (_NOT_FINAL, S.undelivered),
    E.reported_failed: (_NOT_FINAL, S.failed),
    E.reported_canceled: (_NOT_FINAL, S.cancelled),
}
INITIAL = frozenset({S.queued, S.failed, S.cancelled})

# What the provider's report means for us, as an event. Everything before delivery is, for
# us, "the provider has it".
REPORTED = {S.sent: E.reported_sent, S.delivered: E.reported_delivered, S.undelivered: E.reported_undelivered,
            S.failed: E.reported_failed, S.cancelled: E.reported_canceled}

OPTION = "sms_transition"


def sources(event: Event) -> tuple[MessageStatus, ...]:
    return TABLE[event][0]


def target(event: Event) -> MessageStatus:
    return TABLE[event][1]


def allowed(source: MessageStatus, event: Event) -> bool:
    return source in TABLE[event][0]


def check(source: MessageStatus, event: Event) -> MessageStatus:
    """The state `event` moves a message in `source` to; InvalidTransition if it may not."""
    if not allowed(source, event):
        raise InvalidTransition(f"短信当前为“{source.label}”，不能改为“{target(event).label}”"
                                f"（{event.value}）", fields={"status": source.value})
    return target(event)


def from_allowed(event: Event, column=M.c.status):
    """SQL: the row is in a state `event` may leave. One equality per state (no expanding IN),
    so the statement also runs as an executemany."""
    return sa.or_(*(column == s for s in sources(event)))


def update(event: Event, *where, sources_checked: bool = False, **values) -> sa.Update:
    """`UPDATE sms_messages SET status = <target>, **values WHERE <allowed source> AND *where`.
    Values may be bind parameters (an executemany) or SQL expressions; the caller executes.

    `sources_checked=True` when `where` already holds `from_allowed(event)` where it picks the
    rows (a claim's `id IN (SELECT … WHERE <allowed source> …)`: one statement, and on
    PostgreSQL the row lock rechecks it): repeated outside, SQLite's planner walks the status
    index over the whole queue instead of looking the picked ids up."""
    if "status" in values:
        raise ValueError("the transition table sets the status, not the caller")
    condition = () if sources_checked else (from_allowed(event),)
    return (sa.update(M).where(*condition, *where).values(status=target(event), **values)
            .execution_options(**{OPTION: event.value}))


# --- the guard ------------------------------------------------------------------------------

_SETS_STATUS = re.compile(r"^\s*UPDATE\s+\"?sms_messages\"?\s+SET\s+(.*?)(\sWHERE\s|\sRETURNING\s|$)",
                          re.IGNORECASE | re.DOTALL)
_STATUS_ASSIGNED = re.compile(r"(^|[\s,])\"?status\"?\s*=", re.IGNORECASE)


class Bypass(AssertionError):
    """An UPDATE changed sms_messages.status without going through the transition table."""


def sets_status(sql: str) -> bool:
    match = _SETS_STATUS.match(sql)
    return bool(match and _STATUS_ASSIGNED.search(match.group(1)))


def _check_statement(conn, cursor, statement, parameters, context, executemany):
    if sets_status(statement) and OPTION not in (context.execution_options or {}):
        raise Bypass(f"sms_messages.status changed outside subsidy.notify.lifecycle: {statement[:200]}")


def guard(engine) -> None:
    """Refuse, on `engine`, every UPDATE of sms_messages.status not built by `update()`."""
    if not sa.event.contains(engine, "before_cursor_execute", _check_statement):
        sa.event.listen(engine, "before_cursor_execute", _check_statement)


def guarded(engine) -> bool:
    return sa.event.contains(engine, "before_cursor_execute", _check_statement)


def unguard(engine) -> None:
    if sa.event.contains(engine, "before_cursor_execute", _check_statement):
        sa.event.remove(engine, "before_cursor_execute", _check_statement)

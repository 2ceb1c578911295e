"""The state machine of an SMS message: the only code that changes `Message.status`.

    queued ──claim──▶ sending ──accepted──▶ sent ──reported_delivered──▶ delivered
      ▲                 │ ↺ reclaim (its lease expired: the worker died)
      └─retry, release──┤                   sent ──reported_undelivered / _failed / _canceled──▶
                        ├──give_up──▶ failed                    undelivered / failed / cancelled
                        └──opt_out──▶ cancelled

    queued or sending ──reported_sent──▶ sent, and ──reported_(any final)──▶ as from sent

`MACHINE` below is that table, on the engine every table of the platform shares
(`subsidy.common.statemachine`; docs/architecture.md "State machines"). Every row is
`internal`: the worker and the provider's reports take them, never a page or the API.

The provider's reports (status callbacks, look-ups of stuck messages) move a message forward
only: a report may land on a message we still hold as queued or sending (a call we saw time
out, whose callback arrives first: the message adopts the sid and is not sent again), but a
final status is never overwritten.

A message is born queued, failed ("无手机号码") or cancelled ("已退订") by the outbox's INSERT;
`INITIAL` names those. Every later change is an UPDATE built by `MACHINE.update(event, …)`:
its WHERE holds the source states the table allows for the event (so a set-based UPDATE, an
executemany, or two callbacks racing change only rows the table allows) and its SET the
target state; the engine's guard (installed by the test suite) refuses any other UPDATE of
`sms_messages.status`.
"""
from __future__ import annotations

from subsidy.common.labels import Labelled, _l
from subsidy.common.statemachine import Machine, Rule
from subsidy.notify.models import Message, MessageStatus

S = MessageStatus


class Event(Labelled):
    claim = "claim", _l("领取发送")                    # a worker leases a due message
    reclaim = "reclaim", _l("重新领取")                # … or one whose worker's lease expired (it died)
    release = "release", _l("退回待发送")              # handed back unsent (county paused, worker stopping)
    accepted = "accepted", _l("记为已发出")            # the provider accepted our call
    retry = "retry", _l("稍后重试")                    # a transient error: queued again, with backoff
    give_up = "give_up", _l("放弃发送")                # permanent error, attempts exhausted, no phone
    opt_out = "opt_out", _l("因退订不发送")            # the number opted out (our list, or the provider's 21610)
    reported_sent = "reported_sent", _l("回执：已发出")  # provider reports: callbacks and look-ups
    reported_delivered = "reported_delivered", _l("回执：已送达")
    reported_undelivered = "reported_undelivered", _l("回执：未送达")
    reported_failed = "reported_failed", _l("回执：发送失败")
    reported_canceled = "reported_canceled", _l("回执：已取消")


E = Event
_BEFORE_PROVIDER = (S.queued, S.sending)
_NOT_FINAL = (S.queued, S.sending, S.sent)


def _internal(event: Event, sources, target: MessageStatus) -> Rule:
    return Rule(event, tuple(sources), target, internal=True)


MACHINE = Machine("sms", state=Message.status, noun="短信", rules=[
    _internal(E.claim, (S.queued,), S.sending),
    _internal(E.reclaim, (S.sending,), S.sending),
    _internal(E.release, (S.sending,), S.queued),
    _internal(E.accepted, (S.sending,), S.sent),
    _internal(E.retry, (S.sending,), S.queued),
    _internal(E.give_up, (S.sending,), S.failed),
    _internal(E.opt_out, (S.sending,), S.cancelled),
    _internal(E.reported_sent, _BEFORE_PROVIDER, S.sent),
    _internal(E.reported_delivered, _NOT_FINAL, S.delivered),
    _internal(E.reported_undelivered, _NOT_FINAL, S.undelivered),
    _internal(E.reported_failed, _NOT_FINAL, S.failed),
    _internal(E.reported_canceled, _NOT_FINAL, S.cancelled),
])
INITIAL = frozenset({S.queued, S.failed, S.cancelled})

# What the provider's report means for us, as an event. Everything before delivery is, for
# us, "the provider has it".
REPORTED = {S.sent: E.reported_sent, S.delivered: E.reported_delivered, S.undelivered: E.reported_undelivered,
            S.failed: E.reported_failed, S.cancelled: E.reported_canceled}

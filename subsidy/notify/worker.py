"""The SMS worker (`flask sms worker [--once]`): docs/design.md "SMS".

One batch goes like this, and nothing else holds a transaction open:

1. claim: one short transaction turns up to SMS_BATCH_SIZE due messages (`sending` under an
   expired lease: a worker that died; then queued and due) into `sending` with our lease
   (owner, expiry): PostgreSQL `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
   RETURNING`, so several workers never claim the same row; SQLite the same `UPDATE …
   RETURNING` (SQLite ≥ 3.35) under the write lock (one worker is the rule there). Paused
   counties are skipped. The claim commits before anything is sent.
2. check at send time: opted-out numbers are cancelled, paused counties released (the checks
   are read once per batch and at most a second old).
3. send through the gateway (one client and one kept-alive HTTP session), outside any
   transaction.
4. record: the outcomes gathered so far, once per batch or every `record_every` seconds
   (RECORD_EVERY_SECONDS) whichever comes first, in one transaction: one executemany of a
   prepared UPDATE per kind of outcome (usually one: all sent) and one commit; a pass
   (`run_once`) records a batch's last group in the transaction of the next claim, so a
   batch costs one commit, not two. Each row's
   UPDATE applies only if the row still carries our lease (`WHERE id = ? AND lease_owner = me
   AND status = 'sending'`). If every row applied (the rule) that is all; if not (a lease was
   lost: we were too slow and another worker took a message over), the transaction is redone
   row by row, so the result is recorded where we still hold the lease and, where we do not,
   a call that may have created a message is still counted in `provider_calls`, so a
   duplicate is never hidden.

A crash between a provider call and its record (the process killed, the database gone) is
at-least-once, as before, with a window of at most one record group (≤ SMS_BATCH_SIZE
messages, ≤ `record_every` seconds plus the next claim) instead of one message (the per-
message commits cost 3-4 round trips and a synchronous commit each, most of the worker's
time on PostgreSQL): those messages stay `sending`
under the dead lease and are claimed again once it expires. Twilio has no idempotency key
for creating a message, so what prevents the second send is the status callback: its URL
carries our message id (`/sms/status?m=<id>`), and Twilio posts `queued`/`sent` within
seconds, long before the lease (SMS_LEASE_SECONDS) expires; the callback adopts the sid and
moves the message to `sent`, so the reclaim finds nothing. Without callbacks (or if they are
late) the farmer may get a second text, which the later callback for the first sid then
counts in `provider_calls` (status.apply_status).

Transient failures are retried with exponential backoff and full jitter,
`uniform(0, SMS_RETRY_BASE_SECONDS * 2**(attempt-1))`, until SMS_MAX_ATTEMPTS; permanent ones
stop at once with the reason. `attempts` counts claims, so a message whose worker keeps dying
still ends (failed, "lease_expired") instead of looping. The worker is an edge: it commits
itself and writes no audit event per message (staff actions are audited in `service`).
Every status change goes through the state machine (`lifecycle.MACHINE`).

The database going away ("database is locked" past the busy timeout on SQLite, a dropped
connection or a restart on PostgreSQL) does not end the worker: each step's transaction (claim,
record, renew, the checks, the look-ups) is run again with backoff until it goes through
(`subsidy.common.jobs.Retry`), and outcomes gathered but not yet recorded are kept meanwhile,
so a message sent while the database was away is recorded once it is back, never sent again.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from subsidy.common.database import lock_rows, upsert_insert
from subsidy.common.jobs import Retry, Stopped
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.households.validation import to_e164
from subsidy.notify import gateways, sealed
from subsidy.notify.lifecycle import MACHINE, Event
from subsidy.notify.models import Message, MessageStatus, OptOut, SendingControl
from subsidy.notify.outbox import OPTED_OUT
from subsidy.notify.templates import OPT_OUT_EXEMPT
from subsidy.regions.scope import within

log = logging.getLogger("subsidy.sms")
M = Message.__table__
S = MessageStatus
# Outcomes are recorded at least this often (seconds), and at the end of each batch: the
# window of messages a crash can leave sent but unrecorded (see the module docstring).
RECORD_EVERY_SECONDS = 1.0


@dataclass
class Stats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0      # handed back unsent (county paused, worker stopping)
    lease_lost: int = 0    # a result we could not record: another worker had taken over
    ambiguous: int = 0     # calls that may have created a message although we saw an error
    looked_up: int = 0     # `sent` messages whose status was fetched from the provider
    status_changes: int = 0

    def add(self, other: Stats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def __str__(self) -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self))


@dataclass
class Claimed:
    id: int
    to_phone: str | None
    body: str
    region_code: str
    attempts: int
    template: str = ""
    login_code_id: int | None = None


@dataclass
class _Checks:
    blocked: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    at: float = 0.0


@dataclass
class Outcome:
    """What became of one claimed message, waiting to be recorded: the transition and the
    bind values of its prepared UPDATE (`_RECORD[event]`)."""

    message: Claimed
    event: Event
    params: dict
    provider_calls: int = 0
    opt_out: bool = False  # the provider said 21610: remember the number


def _require_update_returning() -> None:
    """The claim is one UPDATE … RETURNING (SQLite needs 3.35+); say so plainly if it cannot be."""
    if not db.session.get_bind().dialect.update_returning:
        raise RuntimeError(f"this database has no UPDATE … RETURNING (SQLite {sqlite3.sqlite_version}: "
                           "3.35+ needed) for the SMS worker")


def claim_rows(where, values: dict, returning, limit: int, order_by, event: Event | None = None) -> list:
    """Atomically mark up to `limit` rows matching `where` with `values`; return `returning`,
    in one statement. With `event`, the UPDATE is that transition (`values` must not name the
    status; `where` must hold `MACHINE.from_allowed(event)`); without, it leaves the status
    alone. The caller commits.

    The picked ids are locked and skipped by other workers where the database has row locks
    (PostgreSQL: FOR UPDATE SKIP LOCKED); SQLite's single writer needs none. The state is
    checked where the rows are picked (`sources_checked`): repeated outside, SQLite's planner
    walks the status index over the whole queue instead of looking the picked ids up."""
    _require_update_returning()
    sub = lock_rows(sa.select(M.c.id).where(where).order_by(*order_by).limit(limit),
                    skip_locked=True).scalar_subquery()
    if event is None:
        stmt = sa.update(M).where(M.c.id.in_(sub)).values(**values)
    else:
        stmt = MACHINE.update(event, M.c.id.in_(sub), sources_checked=True, **values)
    return list(db.session.execute(stmt.returning(*returning)))


def paused_counties() -> set[str]:
    return set(db.session.scalars(sa.select(SendingControl.county_code).where(SendingControl.paused.is_(True))))


def blocked_phones(phones) -> set[str]:
    phones = [p for p in set(phones) if p]
    if not phones:
        return set()
    return set(db.session.scalars(sa.select(OptOut.phone).where(OptOut.phone.in_(phones))))


def _bind(name: str, column=None):
    return sa.bindparam(name, type_=column.type) if column is not None else sa.bindparam(name)


# One prepared UPDATE per kind of outcome, run as an executemany over a record group; each
# applies only to a row we still hold (id, our lease, a state the table lets the event leave).
_MINE = (M.c.id == _bind("m_id"), M.c.lease_owner == _bind("m_owner"))
_DONE = {"lease_owner": None, "lease_expires_at": None,
         "provider_calls": M.c.provider_calls + _bind("m_calls", M.c.provider_calls)}
_ERROR = {"error_code": _bind("m_code", M.c.error_code), "error_message": _bind("m_text", M.c.error_message)}
_FINAL = {"status_at": _bind("m_now", M.c.status_at), **_ERROR, **_DONE}
_RECORD = {
    Event.accepted: MACHINE.update(Event.accepted, *_MINE, provider_sid=_bind("m_sid", M.c.provider_sid),
                                     sent_at=_bind("m_now", M.c.sent_at), error_code=None, error_message=None, **_DONE),
    Event.retry: MACHINE.update(Event.retry, *_MINE, next_attempt_at=_bind("m_next", M.c.next_attempt_at),
                                  **_ERROR, **_DONE),
    Event.give_up: MACHINE.update(Event.give_up, *_MINE, **_FINAL),
    Event.opt_out: MACHINE.update(Event.opt_out, *_MINE, **_FINAL),
    Event.release: MACHINE.update(Event.release, *_MINE, lease_owner=None, lease_expires_at=None,
                                    attempts=M.c.attempts - 1),
}
_COUNTED = {Event.accepted: "sent", Event.retry: "retried", Event.give_up: "failed", Event.opt_out: "cancelled",
            Event.release: "released"}


def default_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, gateway=None, *, owner: str | None = None, rng: random.Random | None = None,
                 batch_size: int | None = None, config=None, record_every: float = RECORD_EVERY_SECONDS,
                 retry: Retry | None = None):
        config = config or current_app.config
        self.gateway = gateway or gateways.make_gateway(config)
        self.owner = owner or default_owner()
        self.rng = rng or random.Random()
        self.batch_size = batch_size or int(config["SMS_BATCH_SIZE"])
        self.lease = timedelta(seconds=int(config["SMS_LEASE_SECONDS"]))
        self.max_attempts = int(config["SMS_MAX_ATTEMPTS"])
        self.retry_base = float(config["SMS_RETRY_BASE_SECONDS"])
        self.stuck_after = timedelta(seconds=int(config["SMS_STUCK_SENT_SECONDS"]))
        self.public_base_url = config["PUBLIC_BASE_URL"]
        self.poll_seconds = float(config.get("SMS_POLL_SECONDS", 2.0))
        self.record_every = record_every
        self.stopping = False
        # A worker waits out the database for as long as it takes (JOB_RETRY_* settings).
        self.retry = retry or Retry.from_config(config, give_up=False, should_stop=lambda: self.stopping, logger=log)

    # --- claiming ---------------------------------------------------------------------------
    def claim(self, due_before=None, limit: int | None = None, *, record: list[Outcome] = (),
              stats: Stats | None = None) -> list[Claimed]:
        """Claim messages due at `due_before` (default: now) with a lease from now, and commit
        (step 1): first any whose worker's lease expired, then queued ones in due order.
        `record`: the previous batch's last outcomes, recorded in the same transaction (one
        commit for both).

        Two statements rather than one with an OR: each walks ix_sms_messages_due (status,
        next_attempt_at) to its LIMIT, where the OR made the database sort every due row for
        every batch (a 50,000-message broadcast: 40 ms per claim, quadratic in the queue).
        Ties in next_attempt_at (a broadcast's messages share it) go in index order."""
        limit = limit or self.batch_size
        returning = (M.c.id, M.c.to_phone, M.c.body, M.c.region_code, M.c.attempts, M.c.template, M.c.login_code_id)
        stats = stats if stats is not None else Stats()
        record = list(record)

        def attempt():
            now = utcnow()
            before = min(due_before or now, now)
            values = {"lease_owner": self.owner, "lease_expires_at": now + self.lease, "attempts": M.c.attempts + 1}
            counted = Stats()
            try:
                self._apply(record, counted)
                not_paused = sa.and_(sa.true(), *(sa.not_(within(M.c.region_code, county))
                                                  for county in sorted(paused_counties())))
                rows = claim_rows(sa.and_(MACHINE.from_allowed(Event.reclaim), M.c.lease_expires_at <= before,
                                          not_paused),
                                  values, returning, limit, (M.c.lease_expires_at,), event=Event.reclaim)
                if len(rows) < limit:
                    rows += claim_rows(sa.and_(MACHINE.from_allowed(Event.claim), M.c.next_attempt_at <= before,
                                               not_paused),
                                       values, returning, limit - len(rows), (M.c.next_attempt_at,), event=Event.claim)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            stats.add(counted)  # only once the transaction went through
            return rows

        rows = self.retry.call(attempt, "sms worker: claim")
        # RETURNING has no order: send oldest first.
        return sorted((Claimed(*row) for row in rows), key=lambda m: m.id)

    # --- one pass ---------------------------------------------------------------------------
    def run_once(self) -> Stats:
        """Send everything due when the pass starts, then look up messages stuck in `sent`."""
        stats = Stats()
        start = utcnow()
        unrecorded: list[Outcome] = []
        try:
            try:
                while not self.stopping:
                    batch = self.claim(due_before=start, record=unrecorded, stats=stats)
                    unrecorded = []
                    if not batch:
                        break
                    stats.claimed += len(batch)
                    unrecorded = self._process(batch, stats)
            finally:
                self.record_all(unrecorded, stats)
            if not self.stopping:
                self.look_up_stuck(stats)
        except Stopped:
            log.warning("sms worker stopped while the database was unavailable; what it sent is recorded")
        return stats

    def run_forever(self, on_pass=None) -> Stats:
        total = Stats()
        while not self.stopping:
            stats = Stats()
            try:
                batch = self.claim()
                if batch:
                    stats.claimed += len(batch)
                    self.process(batch, stats)  # recorded before the pass is reported
                else:
                    self.look_up_stuck(stats)
            except Stopped:
                log.warning("sms worker stopped while the database was unavailable; what it sent is recorded")
                total.add(stats)
                break
            total.add(stats)
            if on_pass and (stats.claimed or stats.looked_up):
                on_pass(stats)
            if not batch:
                self._sleep(self.poll_seconds)
        return total

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    # --- steps 2-4 --------------------------------------------------------------------------
    def _checks(self, batch: list[Claimed], checks: _Checks | None) -> _Checks:
        if checks is not None and time.monotonic() - checks.at < 1.0:
            return checks

        def attempt():
            try:
                return _Checks(blocked_phones(m.to_phone for m in batch), paused_counties(), time.monotonic())
            finally:
                db.session.rollback()  # a read: end the transaction before sending

        return self.retry.call(attempt, "sms worker: checks")

    def process(self, batch: list[Claimed], stats: Stats) -> None:
        """Steps 2-4 for a claimed batch: outcomes are gathered and recorded in groups."""
        self.record_all(self._process(batch, stats), stats)

    def _process(self, batch: list[Claimed], stats: Stats) -> list[Outcome]:
        """`process`, except that the last group is returned unrecorded (run_once records it
        with the next claim). If anything fails, what was gathered is recorded first."""
        lease_s = self.lease.total_seconds()
        claimed_at = recorded_at = time.monotonic()
        checks = None
        pending: list[Outcome] = []
        remaining = list(reversed(batch))  # popped from the end: in claim order
        try:
            while remaining:
                if self.stopping:
                    return pending + [self._release(m) for m in reversed(remaining)]
                if time.monotonic() - claimed_at > lease_s / 2:
                    self.record_all(pending, stats)
                    pending = []
                    remaining = self.renew(remaining)
                    claimed_at = recorded_at = time.monotonic()
                    continue
                message = remaining.pop()
                checks = self._checks([message, *remaining], checks)
                pending.append(self.outcome(message, checks, stats))
                if time.monotonic() - recorded_at >= self.record_every:
                    self.record_all(pending, stats)
                    pending = []
                    recorded_at = time.monotonic()
        except BaseException:
            self.record_all(pending, stats)
            raise
        return pending

    def outcome(self, message: Claimed, checks: _Checks, stats: Stats) -> Outcome:
        """Steps 2-3 for one message: check, send if allowed, and say what to record."""
        if message.region_code[:6] in checks.paused:
            return self._release(message)
        if message.attempts > self.max_attempts:
            # Reclaimed after its workers died time and again: stop rather than loop.
            return self.result_outcome(message, gateways.permanent("lease_expired"), stats)
        if message.to_phone in checks.blocked and message.template not in OPT_OUT_EXEMPT:
            code, text = OPTED_OUT
            return Outcome(message, Event.opt_out, {"m_now": utcnow(), "m_code": code, "m_text": text, "m_calls": 0})
        if not message.to_phone:
            return self.result_outcome(message, gateways.permanent("no_phone"), stats)
        text = message.body
        if message.template == "login_code":
            if message.login_code_id is None:  # stored in clear before codes were sealed, then masked
                return self.result_outcome(message, gateways.permanent("code_unavailable"), stats)
            text = sealed.unmask(message.body, message.login_code_id)
        result = self.gateway.send(message.id, to_e164(message.to_phone), text,
                                   gateways.callback_url(self.public_base_url, message.id))
        return self.result_outcome(message, result, stats)

    def _release(self, message: Claimed) -> Outcome:
        """Hand a claimed message back unsent; this claim does not count as an attempt."""
        return Outcome(message, Event.release, {})

    def result_outcome(self, message: Claimed, result: gateways.SendResult, stats: Stats) -> Outcome:
        """The transition a gateway result asks for, with its backoff where it is retried."""
        now = utcnow()
        calls = result.provider_calls
        if result.ambiguous:
            stats.ambiguous += 1
            log.warning("SMS %s: ambiguous outcome (%s); the provider may have it", message.id, result.error_code)
        if result.outcome == "sent":
            return Outcome(message, Event.accepted, {"m_sid": result.sid, "m_now": now, "m_calls": 1}, calls)
        if result.outcome == "transient" and message.attempts < self.max_attempts:
            delay = self.rng.uniform(0, self.retry_base * 2 ** (message.attempts - 1))
            return Outcome(message, Event.retry, {"m_next": now + timedelta(seconds=delay), "m_code": result.error_code,
                                                  "m_text": result.error_message, "m_calls": calls}, calls)
        if result.outcome == "transient":
            text = f"重试{message.attempts}次仍未发出：{result.error_message}"[:255]
            return Outcome(message, Event.give_up, {"m_now": now, "m_code": result.error_code, "m_text": text,
                                                    "m_calls": calls}, calls)
        opted_out = result.error_code == gateways.OPT_OUT_CODE
        return Outcome(message, Event.opt_out if opted_out else Event.give_up,
                       {"m_now": now, "m_code": result.error_code, "m_text": (result.error_message or "")[:255],
                        "m_calls": calls}, calls, opt_out=opted_out and bool(message.to_phone))

    def record(self, message: Claimed, result: gateways.SendResult, stats: Stats) -> bool:
        """Step 4 for one gateway result: store it if we still hold the lease."""
        return self.record_all([self.result_outcome(message, result, stats)], stats) == 1

    def record_all(self, outcomes: list[Outcome], stats: Stats) -> int:
        """Step 4: store a group of outcomes in one transaction; returns how many applied."""
        if not outcomes:
            return 0

        def attempt():
            counted = Stats()
            try:
                applied = self._apply(outcomes, counted)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            stats.add(counted)
            return applied

        # Retried until the database takes it, even by a worker told to stop: these messages
        # have been sent, and giving up on their record would have them sent again once their
        # lease expires.
        return self.retry.call(attempt, "sms worker: record", stoppable=False)

    def _apply(self, outcomes: list[Outcome], stats: Stats) -> int:
        """Step 4 without the commit, first in its transaction; returns how many applied."""
        if not outcomes:
            return 0
        by_event: dict[Event, list[dict]] = {}
        for o in outcomes:
            by_event.setdefault(o.event, []).append({**o.params, "m_id": o.message.id, "m_owner": self.owner})
        applied = sum(db.session.execute(_RECORD[event], rows).rowcount for event, rows in by_event.items())
        if applied == len(outcomes):
            self._store_opt_outs(outcomes)
            for o in outcomes:
                _count(stats, o.event)
            return applied
        db.session.rollback()
        # A lease was lost somewhere in the group: redo it row by row to know where.
        applied = 0
        for o in outcomes:
            row = {**o.params, "m_id": o.message.id, "m_owner": self.owner}
            if db.session.execute(_RECORD[o.event], row).rowcount:
                applied += 1
                _count(stats, o.event)
                continue
            sid = o.params.get("m_sid")
            if sid and db.session.scalar(sa.select(M.c.provider_sid).where(M.c.id == o.message.id)) == sid:
                # The provider's status callback came first and recorded this very send (it
                # adopted our sid and counted the call): nothing is lost and nothing doubled.
                applied += 1
                _count(stats, o.event)
                continue
            if o.provider_calls:
                # Not ours any more, but the call may have made a message: count it anyway.
                db.session.execute(sa.update(M).where(M.c.id == o.message.id)
                                   .values(provider_calls=M.c.provider_calls + o.provider_calls))
            if o.event is not Event.release:
                stats.lease_lost += 1
                log.warning("SMS %s: lease lost before the result (%s) was recorded", o.message.id, o.event.value)
        self._store_opt_outs(outcomes)
        return applied

    def _store_opt_outs(self, outcomes: list[Outcome]) -> None:
        phones = sorted({o.message.to_phone for o in outcomes if o.opt_out})
        if not phones:
            return
        now = utcnow()
        db.session.execute(upsert_insert(OptOut).values([
            {"phone": p, "source": "provider", "note": "短信平台退订（21610）", "created_at": now} for p in phones
        ]).on_conflict_do_nothing(index_elements=["phone"]))

    def renew(self, messages: list[Claimed]) -> list[Claimed]:
        """Extend our lease on the messages not yet sent; drop any we no longer hold."""
        ids = {m.id for m in messages}

        def attempt():
            try:
                kept = set(db.session.scalars(sa.update(M).where(
                    M.c.id.in_(ids), M.c.lease_owner == self.owner, M.c.status == S.sending,
                ).values(lease_expires_at=utcnow() + self.lease).returning(M.c.id)))
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            return kept

        kept = self.retry.call(attempt, "sms worker: renew")
        return [m for m in messages if m.id in kept]

    # --- messages stuck in `sent` -----------------------------------------------------------
    def look_up_stuck(self, stats: Stats, limit: int | None = None) -> None:
        """Ask the provider about messages `sent` for longer than SMS_STUCK_SENT_SECONDS without
        a final status (a lost callback). `status_at` marks the look-up, so each message is
        asked about at most once per period, and by one worker."""
        if not getattr(self.gateway, "can_fetch", False):
            return
        from subsidy.notify.status import apply_status

        def take():
            now = utcnow()
            try:
                rows = claim_rows(
                    sa.and_(M.c.status == S.sent, M.c.provider_sid.is_not(None),
                            sa.func.coalesce(M.c.status_at, M.c.sent_at) <= now - self.stuck_after),
                    {"status_at": now}, (M.c.id, M.c.provider_sid), limit or self.batch_size, (M.c.id,))
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            return rows

        for message_id, sid in self.retry.call(take, "sms worker: look-up"):
            found = self.gateway.fetch(sid)
            stats.looked_up += 1
            if found is None:
                continue

            def store(message_id=message_id, sid=sid, found=found):
                try:
                    changed = apply_status(message_id, sid, found.status, found.error_code)
                    db.session.commit()
                except BaseException:
                    db.session.rollback()
                    raise
                return changed

            stats.status_changes += int(self.retry.call(store, "sms worker: status"))


def _count(stats: Stats, event: Event) -> None:
    name = _COUNTED[event]
    setattr(stats, name, getattr(stats, name) + 1)

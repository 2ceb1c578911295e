"""The SMS worker (`flask sms worker [--once]`): DESIGN.md "SMS (Twilio)", issue 3 "Worker".

One batch goes like this, and nothing else holds a transaction open:

1. claim: one short transaction turns up to SMS_BATCH_SIZE due messages (queued and due, or
   `sending` under an expired lease: a worker that died) into `sending` with our lease
   (owner, expiry). PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, then `UPDATE … RETURNING`,
   so several workers never claim the same row. SQLite: one atomic `UPDATE … RETURNING`
   (SQLite ≥ 3.35) under the write lock; one worker is the rule there. Paused counties are
   skipped. The claim commits before anything is sent.
2. check at send time: opted-out numbers are cancelled, paused counties released.
3. send through the gateway, outside any transaction.
4. record: a new short transaction per message, an UPDATE that applies only if the row still
   carries our lease (`WHERE lease_owner = me AND status = 'sending'`). If the lease was lost
   (we were too slow and another worker took the message over), the result is not recorded;
   a call that may have created a message is still counted in `provider_calls`, so a
   duplicate is never hidden.

Transient failures are retried with exponential backoff and full jitter,
`uniform(0, SMS_RETRY_BASE_SECONDS * 2**(attempt-1))`, until SMS_MAX_ATTEMPTS; permanent ones
stop at once with the reason. `attempts` counts claims, so a message whose worker keeps dying
still ends (failed, "lease_expired") instead of looping. The worker is an edge: it commits
itself and writes no audit event per message (staff actions are audited in `service`).
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.households.validation import to_e164
from subsidy.notify import gateways
from subsidy.notify.models import Message, MessageStatus, OptOut, SendingControl
from subsidy.notify.outbox import OPTED_OUT
from subsidy.notify.templates import OPT_OUT_EXEMPT
from subsidy.regions.scope import within

log = logging.getLogger("subsidy.sms")
M = Message.__table__
S = MessageStatus


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


@dataclass
class _Checks:
    blocked: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    at: float = 0.0


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _require_sqlite_returning() -> None:
    if tuple(int(x) for x in sqlite3.sqlite_version.split(".")[:2]) < (3, 35):
        raise RuntimeError(f"SQLite {sqlite3.sqlite_version} has no UPDATE … RETURNING (3.35+ needed) for the SMS worker")


def claim_rows(where, values: dict, returning, limit: int, order_by) -> list:
    """Atomically mark up to `limit` rows matching `where` with `values`; return `returning`.
    The caller commits. See the module docstring for the two databases."""
    if _is_postgres():
        ids = list(db.session.scalars(sa.select(M.c.id).where(where).order_by(*order_by).limit(limit)
                                      .with_for_update(skip_locked=True)))
        if not ids:
            return []
        return list(db.session.execute(sa.update(M).where(M.c.id.in_(ids)).values(**values).returning(*returning)))
    _require_sqlite_returning()
    sub = sa.select(M.c.id).where(where).order_by(*order_by).limit(limit).scalar_subquery()
    return list(db.session.execute(sa.update(M).where(M.c.id.in_(sub)).values(**values).returning(*returning)))


def paused_counties() -> set[str]:
    return set(db.session.scalars(sa.select(SendingControl.county_code).where(SendingControl.paused.is_(True))))


def blocked_phones(phones) -> set[str]:
    phones = [p for p in set(phones) if p]
    if not phones:
        return set()
    return set(db.session.scalars(sa.select(OptOut.phone).where(OptOut.phone.in_(phones))))


_RECORD_SENT = sa.update(M).where(
    M.c.id == sa.bindparam("m_id"), M.c.lease_owner == sa.bindparam("m_owner"), M.c.status == S.sending,
).values(status=S.sent, provider_sid=sa.bindparam("m_sid"), sent_at=sa.bindparam("m_now", type_=M.c.sent_at.type),
         error_code=None, error_message=None, lease_owner=None, lease_expires_at=None,
         provider_calls=M.c.provider_calls + 1)


def default_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, gateway=None, *, owner: str | None = None, rng: random.Random | None = None,
                 batch_size: int | None = None, config=None):
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
        self.stopping = False

    # --- claiming ---------------------------------------------------------------------------
    def claim(self, due_before=None, limit: int | None = None) -> list[Claimed]:
        """Claim messages due at `due_before` (default: now) with a lease from now, and commit
        (step 1)."""
        now = utcnow()
        due_before = min(due_before or now, now)
        try:
            due = sa.or_(sa.and_(M.c.status == S.queued, M.c.next_attempt_at <= due_before),
                         sa.and_(M.c.status == S.sending, M.c.lease_expires_at <= due_before))
            for county in sorted(paused_counties()):
                due = sa.and_(due, sa.not_(within(M.c.region_code, county)))
            rows = claim_rows(
                due,
                {"status": S.sending, "lease_owner": self.owner, "lease_expires_at": now + self.lease,
                 "attempts": M.c.attempts + 1},
                (M.c.id, M.c.to_phone, M.c.body, M.c.region_code, M.c.attempts, M.c.template),
                limit or self.batch_size,
                (M.c.next_attempt_at, M.c.id),
            )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return [Claimed(*row) for row in rows]

    # --- one pass ---------------------------------------------------------------------------
    def run_once(self) -> Stats:
        """Send everything due when the pass starts, then look up messages stuck in `sent`."""
        stats = Stats()
        start = utcnow()
        while not self.stopping:
            batch = self.claim(due_before=start)
            if not batch:
                break
            stats.claimed += len(batch)
            self.process(batch, stats)
        if not self.stopping:
            self.look_up_stuck(stats)
        return stats

    def run_forever(self, on_pass=None) -> Stats:
        total = Stats()
        while not self.stopping:
            stats = Stats()
            batch = self.claim()
            if batch:
                stats.claimed += len(batch)
                self.process(batch, stats)
            else:
                self.look_up_stuck(stats)
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
        try:
            result = _Checks(blocked_phones(m.to_phone for m in batch), paused_counties(), time.monotonic())
        finally:
            db.session.rollback()  # a read: end the transaction before sending
        return result

    def process(self, batch: list[Claimed], stats: Stats) -> None:
        claimed_at = time.monotonic()
        lease_s = self.lease.total_seconds()
        checks = None
        remaining = list(batch)
        while remaining:
            if self.stopping:
                stats.released += self.release(remaining)
                return
            if time.monotonic() - claimed_at > lease_s / 2:
                remaining = self.renew(remaining)
                claimed_at = time.monotonic()
                if not remaining:
                    return
            message = remaining.pop(0)
            checks = self._checks([message, *remaining], checks)
            if message.region_code[:6] in checks.paused:
                stats.released += self.release([message])
                continue
            if message.attempts > self.max_attempts:
                # Reclaimed after its workers died time and again: stop rather than loop.
                self.record(message, gateways.permanent("lease_expired"), stats)
                continue
            if message.to_phone in checks.blocked and message.template not in OPT_OUT_EXEMPT:
                self.cancel_opted_out(message, stats)
                continue
            if not message.to_phone:
                self.record(message, gateways.permanent("no_phone"), stats)
                continue
            result = self.gateway.send(message.id, to_e164(message.to_phone), message.body,
                                       gateways.callback_url(self.public_base_url, message.id))
            self.record(message, result, stats)

    def _mine(self, message_id: int):
        return sa.and_(M.c.id == message_id, M.c.lease_owner == self.owner, M.c.status == S.sending)

    def _commit(self, stmt) -> int:
        try:
            count = db.session.execute(stmt).rowcount
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return count

    def record(self, message: Claimed, result: gateways.SendResult, stats: Stats) -> bool:
        """Step 4: store the outcome if we still hold the lease."""
        now = utcnow()
        if result.outcome == "sent":
            # The hot path: one prepared statement (no statement built per message).
            stmt, params = _RECORD_SENT, {"m_id": message.id, "m_owner": self.owner, "m_sid": result.sid, "m_now": now}
            new_status = S.sent
        else:
            values = {"lease_owner": None, "lease_expires_at": None,
                      "provider_calls": M.c.provider_calls + result.provider_calls}
            if result.outcome == "transient" and message.attempts < self.max_attempts:
                delay = self.rng.uniform(0, self.retry_base * 2 ** (message.attempts - 1))
                values.update(status=S.queued, next_attempt_at=now + timedelta(seconds=delay),
                              error_code=result.error_code, error_message=result.error_message)
            elif result.outcome == "transient":
                values.update(status=S.failed, status_at=now, error_code=result.error_code,
                              error_message=f"重试{message.attempts}次仍未发出：{result.error_message}"[:255])
            else:
                opted_out = result.error_code == gateways.OPT_OUT_CODE
                values.update(status=S.cancelled if opted_out else S.failed, status_at=now,
                              error_code=result.error_code, error_message=(result.error_message or "")[:255])
            stmt, params, new_status = sa.update(M).where(self._mine(message.id)).values(**values), {}, values["status"]
        if result.ambiguous:
            stats.ambiguous += 1
            log.warning("SMS %s: ambiguous outcome (%s); the provider may have it", message.id, result.error_code)
        try:
            applied = db.session.execute(stmt, params).rowcount
            if not applied and result.provider_calls:
                # Not ours any more, but the call may have made a message: count it anyway.
                db.session.execute(sa.update(M).where(M.c.id == message.id)
                                   .values(provider_calls=M.c.provider_calls + result.provider_calls))
            if result.error_code == gateways.OPT_OUT_CODE and message.to_phone:
                self._store_opt_out(message.to_phone)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if not applied:
            stats.lease_lost += 1
            log.warning("SMS %s: lease lost before the result (%s) was recorded", message.id, result.outcome)
            return False
        if new_status == S.sent:
            stats.sent += 1
        elif new_status == S.queued:
            stats.retried += 1
        elif new_status == S.cancelled:
            stats.cancelled += 1
        else:
            stats.failed += 1
        return True

    def _store_opt_out(self, phone: str) -> None:
        insert = pg_insert if _is_postgres() else sqlite_insert
        db.session.execute(insert(OptOut).values(phone=phone, source="provider", note="短信平台退订（21610）",
                                                 created_at=utcnow()).on_conflict_do_nothing(index_elements=["phone"]))

    def cancel_opted_out(self, message: Claimed, stats: Stats) -> None:
        code, text = OPTED_OUT
        if self._commit(sa.update(M).where(self._mine(message.id)).values(
                status=S.cancelled, status_at=utcnow(), error_code=code, error_message=text,
                lease_owner=None, lease_expires_at=None)):
            stats.cancelled += 1
        else:
            stats.lease_lost += 1

    def release(self, messages: list[Claimed]) -> int:
        """Hand claimed messages back unsent; this claim does not count as an attempt."""
        if not messages:
            return 0
        return self._commit(sa.update(M).where(
            M.c.id.in_([m.id for m in messages]), M.c.lease_owner == self.owner, M.c.status == S.sending,
        ).values(status=S.queued, lease_owner=None, lease_expires_at=None, attempts=M.c.attempts - 1))

    def renew(self, messages: list[Claimed]) -> list[Claimed]:
        """Extend our lease on the messages not yet sent; drop any we no longer hold."""
        ids = {m.id for m in messages}
        try:
            kept = set(db.session.scalars(sa.update(M).where(
                M.c.id.in_(ids), M.c.lease_owner == self.owner, M.c.status == S.sending,
            ).values(lease_expires_at=utcnow() + self.lease).returning(M.c.id)))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return [m for m in messages if m.id in kept]

    # --- messages stuck in `sent` -----------------------------------------------------------
    def look_up_stuck(self, stats: Stats, limit: int | None = None) -> None:
        """Ask the provider about messages `sent` for longer than SMS_STUCK_SENT_SECONDS without
        a final status (a lost callback). `status_at` marks the look-up, so each message is
        asked about at most once per period, and by one worker."""
        if not getattr(self.gateway, "can_fetch", False):
            return
        from subsidy.notify.status import apply_status

        now = utcnow()
        cutoff = now - self.stuck_after
        try:
            rows = claim_rows(
                sa.and_(M.c.status == S.sent, M.c.provider_sid.is_not(None),
                        sa.func.coalesce(M.c.status_at, M.c.sent_at) <= cutoff),
                {"status_at": now}, (M.c.id, M.c.provider_sid), limit or self.batch_size, (M.c.id,))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        for message_id, sid in rows:
            found = self.gateway.fetch(sid)
            stats.looked_up += 1
            if found is None:
                continue
            try:
                changed = apply_status(message_id, sid, found.status, found.error_code)
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            stats.status_changes += int(changed)

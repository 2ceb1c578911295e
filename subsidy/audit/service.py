"""Writing and proving the audit chain.

Each event's hash is an HMAC-SHA-256 keyed with AUDIT_KEY, a secret of the installation that is
never stored in the database: someone who can write to the database but does not hold the key
cannot append, change or rehash events without `verify_chain` naming the first broken one.

Appends are serialised so that two transactions never chain onto the same predecessor: on
PostgreSQL by a transaction-scoped advisory lock, on SQLite by the write lock that every
writing transaction takes up front (see `subsidy.common.database`)."""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import defer

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit.models import AuditEvent
from subsidy.common.database import advisory_lock
from subsidy.common.pagination import Page, paginate
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.scope import within

GENESIS = "0" * 64
_AUDIT_LOCK_KEY = 640_425_001  # arbitrary, constant: the advisory lock guarding the chain head


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON-serialisable in an audit event: {type(value).__name__}")


def canonical_json(data) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def audit_key() -> bytes:
    """AUDIT_KEY, or when unset one derived from SECRET_KEY (set AUDIT_KEY in production, so
    that a new SECRET_KEY does not break the chain's verification)."""
    key = current_app.config.get("AUDIT_KEY") or ""
    if key:
        return key.encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"audit-chain", hashlib.sha256).digest()


def _digest(prev_hash: str, at: datetime, actor_id, actor: str, action: str, object_type: str,
            object_id, region_code, detail: str, *, keyed: bool = True, key: bytes | None = None) -> str:
    payload = canonical_json(
        [prev_hash, at.isoformat(timespec="microseconds"), actor_id, actor, action, object_type,
         object_id, region_code, detail]
    ).encode()
    if not keyed:  # events written before the chain was keyed (migration 0012)
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key or audit_key(), payload, hashlib.sha256).hexdigest()


def _lock_chain_head() -> str:
    advisory_lock(_AUDIT_LOCK_KEY)
    last = db.session.execute(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    return last or GENESIS


@exempt("the log records whoever acts: the service calling it has checked the act")
def record(actor, action: str, object_type: str, object_id=None, *, region_code: str | None = None,
           **detail) -> AuditEvent:
    """Append one event. `actor` is a User, a Farmer (subsidy.common.actors), or None for the
    system (cron, worker, shell)."""
    return record_many(actor, [(action, object_type, object_id, region_code, detail)])[0]


@exempt("the log records whoever acts: the service calling it has checked the act")
def record_many(actor, events) -> list[AuditEvent]:
    """Append several events in one go: [(action, object_type, object_id, region_code, detail)]."""
    prev = _lock_chain_head()
    at = utcnow()
    actor_id = getattr(actor, "id", None)
    actor_label = getattr(actor, "username", None) or "system"
    # A farmer (subsidy.common.actors.Farmer) is recorded with the session and address acted from.
    about_actor = actor.audit_detail() if hasattr(actor, "audit_detail") else {}
    rows = []
    key = audit_key()
    for action, object_type, object_id, region_code, detail in events:
        object_id = None if object_id is None else str(object_id)
        detail_json = canonical_json({**about_actor, **(detail or {})})
        h = _digest(prev, at, actor_id, actor_label, action, object_type, object_id, region_code, detail_json, key=key)
        rows.append(AuditEvent(at=at, actor_id=actor_id, actor=actor_label, action=action,
                               object_type=object_type, object_id=object_id, region_code=region_code,
                               detail=detail_json, prev_hash=prev, hash=h))
        prev = h
    db.session.add_all(rows)
    db.session.flush()
    return rows


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None
    head_id: int | None = None   # the last event checked, and its hash
    head: str = GENESIS
    hashes: dict[int, str] | None = None  # id → hash of the events asked for (`keep`)


def verify_chain(batch: int = 5000, keep: set[int] | None = None) -> VerifyResult:
    """Walk the whole chain in id order, recomputing every hash; stop at the first broken link.
    `keep`: ids whose hashes to return (the checkpoints' heads, compared by the caller)."""
    prev = GENESIS
    checked = 0
    key = audit_key()
    keyed_seen = False
    last_id = None
    kept: dict[int, str] = {}
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    for ev in db.session.scalars(stmt):
        if ev.prev_hash != prev:
            return VerifyResult(False, checked, ev.id, "prev_hash does not match the previous event "
                                "(an event was removed or inserted)", last_id, prev, kept)
        if keyed_seen and not ev.keyed:
            return VerifyResult(False, checked, ev.id, "an unkeyed event after the chain was keyed "
                                "(written by someone without the audit key)", last_id, prev, kept)
        expected = _digest(prev, ev.at, ev.actor_id, ev.actor, ev.action, ev.object_type, ev.object_id,
                           ev.region_code, ev.detail, keyed=ev.keyed, key=key)
        if not hmac.compare_digest(ev.hash, expected):
            return VerifyResult(False, checked, ev.id, "content does not match its keyed hash (the event was "
                                "changed, or the chain rehashed without the audit key)", last_id, prev, kept)
        keyed_seen = keyed_seen or ev.keyed
        prev, last_id = ev.hash, ev.id
        if keep and ev.id in keep:
            kept[ev.id] = ev.hash
        checked += 1
    return VerifyResult(True, checked, head_id=last_id, head=prev, hashes=kept)


DETAIL_SHOWN = 20_000


@requires(Perm.view_audit)
def list_events(actor, *, page: int = 1, per_page: int = 50, action: str | None = None,
                object_type: str | None = None, object_id: str | None = None) -> Page:
    """The log for the actor's region. Events without a region (sign-in attempts under names no
    account has) belong to no county: no county's readers see another's addresses."""
    stmt = sa.select(AuditEvent).where(within(AuditEvent.region_code, actor.region_code))
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action))
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == str(object_id))
    # An event's detail may run to tens of MB (an import lists every household it changed): the
    # page gets its first DETAIL_SHOWN characters and its length, never the whole of it.
    result = paginate(stmt.options(defer(AuditEvent.detail)).order_by(AuditEvent.id.desc()), page, per_page)
    heads = dict((row[0], row[1:]) for row in db.session.execute(
        sa.select(AuditEvent.id, sa.func.substr(AuditEvent.detail, 1, DETAIL_SHOWN), sa.func.length(AuditEvent.detail))
        .where(AuditEvent.id.in_([ev.id for ev in result.items]))))
    for ev in result.items:
        ev.detail_head, ev.detail_length = heads.get(ev.id, ("", 0))
    return result


@requires(Perm.view_audit)
def security_alerts(actor, days: int = 7) -> list[AuditEvent]:
    """Recent alerts of accounts under attack in the actor's region (failed sign-ins from
    anywhere past the threshold), newest first, for the home page of audit readers."""
    since = utcnow() - timedelta(days=days)
    return list(db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "user.sign_in_alert", AuditEvent.at >= since,
                                    within(AuditEvent.region_code, actor.region_code))
        .order_by(AuditEvent.id.desc()).limit(20)))

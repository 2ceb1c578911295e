"""Checkpoints of the audit chain kept outside the database: the signed head and count of the
chain, once a day (`flask audit checkpoint`, from cron), written to AUDIT_CHECKPOINT_DIR and sent
by SMS to the county supervisors as a short code; a supervisor may also download one at any
time from the audit page and keep it.

The chain itself proves that no event was changed or removed in its middle; what it cannot
prove alone is that its newest events were not all deleted (truncation), or that someone
holding the database did not recompute every hash after a change. A checkpoint signed with the
audit key, kept where the database's holder cannot reach it, does both: `flask audit verify`
checks that each checkpoint's event is still there with the same hash and the same number of
events up to it, and names the checkpoint that fails."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from subsidy.accounts.models import Role, User
from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.audit.models import AuditEvent
from subsidy.common.timeutil import local_today, utcnow
from subsidy.errors import ValidationError
from subsidy.extensions import db

VERSION = 1


@dataclass
class Checkpoint:
    date: str      # China calendar day it was made
    made_at: str   # ISO time
    last_id: int   # the newest event at the time (0: an empty chain)
    count: int     # events with id <= last_id
    head: str      # hash of event last_id
    signature: str = ""

    def _payload(self) -> bytes:
        data = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps({"v": VERSION, **data}, sort_keys=True, separators=(",", ":")).encode()

    def sign(self) -> Checkpoint:
        self.signature = hmac.new(audit.audit_key(), b"checkpoint:" + self._payload(), hashlib.sha256).hexdigest()
        return self

    def signed_by_us(self) -> bool:
        expected = hmac.new(audit.audit_key(), b"checkpoint:" + self._payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature or "")

    @property
    def short_code(self) -> str:
        """What an SMS carries: enough of the head to tell it from any forgery."""
        return self.head[:12]

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in ("date", "made_at", "last_id", "count", "head", "signature")})
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError("不是审计日志校验点文件", fields={"file": "文件格式不正确"}) from exc


def current() -> Checkpoint:
    """The chain's head now, signed."""
    last = db.session.execute(sa.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    return Checkpoint(local_today().isoformat(), utcnow().isoformat(), last.id if last else 0, count,
                      last.hash if last else audit.GENESIS).sign()


def directory() -> Path:
    configured = current_app.config.get("AUDIT_CHECKPOINT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "audit-checkpoints"


def write_daily() -> tuple[Checkpoint, Path]:
    """`flask audit checkpoint`: today's checkpoint to a file of its own (owner-only), audited,
    and its short code by SMS to every county-level and city supervisor with a phone."""
    point = current()
    folder = directory()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"audit-{point.date}-{point.last_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(point.as_json())
    if current_app.config.get("AUDIT_CHECKPOINT_SMS"):
        _send_to_supervisors(point)
    audit.record(None, "audit.checkpoint", "audit_checkpoint", point.last_id, count=point.count,
                 head=point.head, file=path.name)
    return point, path


def _send_to_supervisors(point: Checkpoint) -> None:
    from subsidy.notify import outbox

    rows = db.session.execute(sa.select(User.id, User.phone, User.region_code).where(
        sa.or_(sa.and_(User.role == Role.supervisor, sa.func.length(User.region_code) == 6),
               User.role == Role.city_supervisor),
        User.active.is_(True), User.phone.is_not(None))).all()
    outbox.enqueue_bulk("audit_checkpoint", [
        {"key": f"audit_checkpoint:{point.date}:{point.last_id}:{uid}", "phone": phone, "region_code": region,
         "context": {"date": point.date, "count": point.count, "last_id": point.last_id, "short": point.short_code}}
        for uid, phone, region in rows])


@requires(Perm.view_audit)
def download(actor) -> Checkpoint:
    """A checkpoint of the chain as it is now, for a supervisor to keep; the download is audited."""
    point = current()
    audit.record(actor, "audit.checkpoint_download", "audit_checkpoint", point.last_id,
                 region_code=actor.region_code, count=point.count, head=point.head)
    return point


@dataclass
class CheckpointProblem:
    name: str
    reason: str


def check(points: list[tuple[str, Checkpoint]], hashes: dict[int, str],
          counts: dict[int, int]) -> list[CheckpointProblem]:
    """Each checkpoint against the chain: signed with our key, its event still there with the
    same hash, the same number of events up to it."""
    problems = []
    for name, point in points:
        if not point.signed_by_us():
            problems.append(CheckpointProblem(name, "signature does not match (not made with this audit key)"))
        elif point.last_id and point.last_id not in hashes:
            problems.append(CheckpointProblem(name, f"event {point.last_id} is gone (the chain was truncated)"))
        elif point.last_id and not hmac.compare_digest(hashes[point.last_id], point.head):
            problems.append(CheckpointProblem(
                name, f"event {point.last_id} has another hash (the chain was rewritten)"))
        elif counts.get(point.last_id, 0) != point.count:
            problems.append(CheckpointProblem(name, f"{counts.get(point.last_id, 0)} events up to {point.last_id}, "
                                                    f"the checkpoint counted {point.count} (events removed)"))
    return problems


def saved() -> list[tuple[str, Checkpoint]]:
    folder = directory()
    if not folder.is_dir():
        return []
    return [(p.name, Checkpoint.from_json(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("audit-*.json"))]


@dataclass
class FullVerification:
    chain: audit.VerifyResult
    checkpoints: int
    problems: list[CheckpointProblem]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def verify_all(extra: list[tuple[str, Checkpoint]] = ()) -> FullVerification:
    """The chain, and every checkpoint (saved ones and `extra`) against it."""
    points = saved() + list(extra)
    ids = {p.last_id for _, p in points if p.last_id}
    result = audit.verify_chain(keep=ids)
    counts = {}
    for last_id in ids:
        counts[last_id] = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                            .where(AuditEvent.id <= last_id))
    problems = check(points, result.hashes or {}, counts)
    return FullVerification(result, len(points), problems)


@requires(Perm.view_audit)
def verify_for(actor) -> FullVerification:
    """The supervisor's 校验 button: the same check as `flask audit verify`, audited."""
    outcome = verify_all()
    audit.record(actor, "audit.verify", "audit_chain", None, region_code=actor.region_code, ok=outcome.ok,
                 checked=outcome.chain.checked, checkpoints=outcome.checkpoints,
                 broken_id=outcome.chain.broken_id, problems=[p.name for p in outcome.problems])
    return outcome

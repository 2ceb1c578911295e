from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.extensions import db


class AuditEvent(db.Model):
    """One event; `hash` = HMAC-SHA-256, with a key that is not in the database (AUDIT_KEY),
    over the previous event's hash and this event's canonical content, so changing, inserting
    or deleting any row breaks every link after it, and nobody without the key can rehash the
    rest to hide it. Events written before the chain was keyed (`keyed` false) carry a plain
    SHA-256; no unkeyed event may follow a keyed one. Truncation of the newest events is caught
    by the checkpoints kept outside the database (subsidy.audit.checkpoints)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None]  # no FK: the log outlives whatever it mentions
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(40))
    region_code: Mapped[str | None] = mapped_column(sa.String(12), index=True)
    detail: Mapped[str] = mapped_column(sa.Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    keyed: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)

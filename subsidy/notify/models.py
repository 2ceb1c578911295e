from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db


class MessageStatus(Labelled):
    queued = "queued", _l("待发送")                 # waiting to be sent, retries included
    sending = "sending", _l("发送中")               # claimed by a worker holding a lease
    sent = "sent", _l("已发出")                     # accepted by the provider
    delivered = "delivered", _l("已送达")           # the handset confirmed
    undelivered = "undelivered", _l("未送达")       # the carrier could not deliver
    failed = "failed", _l("发送失败")               # gave up: permanent error, attempts exhausted, or no phone
    cancelled = "cancelled", _l("未发送")           # not sent on purpose: opted out, or cancelled by staff


FINAL_STATUSES = frozenset({MessageStatus.delivered, MessageStatus.undelivered, MessageStatus.failed,
                            MessageStatus.cancelled})


class Message(db.Model):
    """One SMS owed to one recipient for one event. `key` is unique per (event, recipient), so
    an event replayed (a retried request, a second approval) never makes a second message."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    # Not indexed: template, to_phone, entry_id, case_id. No query looks messages up by them
    # alone, and every index costs each insert (a county approval owes 5,000 rows at once).
    template: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[str] = mapped_column(sa.Text)
    segments: Mapped[int] = mapped_column(default=1)
    to_phone: Mapped[str | None] = mapped_column(sa.String(20))  # 11 national digits
    region_code: Mapped[str] = mapped_column(sa.String(12))  # indexed below (ix_sms_messages_region_household)
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    # Plain integers: filings and cases arrive in later migrations and outlive nothing here.
    entry_id: Mapped[int | None]
    case_id: Mapped[int | None]
    broadcast_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sms_broadcasts.id"))
    # A sign-in code's message is kept masked (验证码******): the worker puts the code in at
    # sending time, derived from this request (subsidy.public.signin.code_for).
    login_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("mobile_login_codes.id"))
    # Set on a failed/cancelled message once staff resent it (a new row, new key): it then
    # leaves the village clerk's list of messages to fix.
    replaced_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sms_messages.id"))
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus), default=MessageStatus.queued)
    attempts: Mapped[int] = mapped_column(default=0)
    # Calls to the provider that may have created a message (a timeout or 5xx is ambiguous):
    # more than 1 means the farmer may have received a duplicate; counted and reported.
    provider_calls: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires_at: Mapped[datetime | None]
    provider_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(sa.String(20))
    error_message: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    status_at: Mapped[datetime | None]  # time of the last provider status applied

    __table_args__ = (
        sa.Index("ix_sms_messages_due", "status", "next_attempt_at"),
        # The stats SMS block (notify.numbers): one index-only pass per region (status and
        # template are keys so that SQLite covers them too), in (village, household) order; it
        # serves every region-range look-up the plain index did.
        sa.Index("ix_sms_messages_region_household", "region_code", "household_id", "created_at", "status",
                 "template"),
        # Partial: only a broadcast's own messages carry broadcast_id (its status counts).
        sa.Index("ix_sms_messages_broadcast_id", "broadcast_id", postgresql_where=sa.text("broadcast_id IS NOT NULL"),
                 sqlite_where=sa.text("broadcast_id IS NOT NULL")),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    # What the village clerk reads about a message that was not sent (a lazy label).
    @property
    def problem_kind(self):
        from subsidy.notify.gateways import FIX_PHONE_CODES

        if self.status not in (MessageStatus.failed, MessageStatus.cancelled, MessageStatus.undelivered):
            return None
        if self.error_code == "no_phone":
            return _l("无手机号码")
        if self.error_code in FIX_PHONE_CODES:
            return _l("号码有误")
        if self.error_code in ("opted_out", "21610", "30004"):
            return _l("已退订")
        if self.status == MessageStatus.undelivered:
            return _l("未送达")
        return _l("发送失败") if self.status == MessageStatus.failed else _l("未发送")

    @property
    def needs_new_phone(self) -> bool:
        from subsidy.notify.gateways import FIX_PHONE_CODES

        return self.error_code in FIX_PHONE_CODES

    @property
    def possible_duplicate(self) -> bool:
        return self.provider_calls > 1


class Broadcast(db.Model):
    """A notice (群发通知) the county sent to every household of a region: one Message per
    household with a usable phone, keyed `broadcast:<id>:<household id>`."""

    __tablename__ = "sms_broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(sa.String(12), index=True)
    body: Mapped[str] = mapped_column(sa.Text)      # what staff typed
    text: Mapped[str] = mapped_column(sa.Text)      # what is sent: signature + body
    segments_each: Mapped[int]
    messages: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(db.Model):
    """A number that must not be texted (退订): recorded by staff, or learned from Twilio 21610."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # staff, provider, inbound
    note: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class InboundMessage(db.Model):
    """What a farmer texted in, kept for the cases capability to pick up."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(sa.String(20), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled: Mapped[bool] = mapped_column(default=False)


class SendingControl(db.Model):
    """One row per county: the county can pause and resume sending (e.g. a wrong broadcast)."""

    __tablename__ = "sms_control"

    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), primary_key=True)
    paused: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

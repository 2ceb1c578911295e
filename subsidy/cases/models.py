"""Cases: inquiries (咨询), complaints (投诉) and objections (异议), with their timeline, the
working-day calendar and the per-county deadlines (docs/design.md "Cases").

`Case.state` is changed only by `subsidy.cases.workflow` (one transition table), which also
says which states are open, completed or counted nowhere: `OPEN_STATES`, `COMPLETED_STATES`
and `EXCLUDED_STATES` are read from there (imported from here as well, for other areas)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.models import Region


class CaseKind(Labelled):
    inquiry = "inquiry", _l("咨询")  # 咨询
    complaint = "complaint", _l("投诉")  # 投诉
    objection = "objection", _l("异议")  # 异议 on a publicized entry


class Finding(Labelled):
    """核查结论: what the handling unit found of a complaint or objection, given with its reply
    (docs/design.md "Cases"). An inquiry asks; it has no finding."""

    substantiated = "substantiated", _l("属实")
    partly_substantiated = "partly_substantiated", _l("部分属实")
    unsubstantiated = "unsubstantiated", _l("不属实")

    @property
    def plain(self) -> str:
        """The finding as the farmer reads it."""
        return {Finding.substantiated: _l("经核查，您反映的问题属实，已按规定处理。"),
                Finding.partly_substantiated: _l("经核查，您反映的问题部分属实，属实部分已按规定处理。"),
                Finding.unsubstantiated: _l("经核查，您反映的问题不属实。")}[self]


# Kinds whose reply must carry a finding.
FINDING_KINDS = frozenset({CaseKind.complaint, CaseKind.objection})

# The prefix of the reference number a farmer quotes: ZX-2017-000123.
KIND_PREFIX = {CaseKind.inquiry: "ZX", CaseKind.complaint: "TS", CaseKind.objection: "YY"}


class Channel(Labelled):
    mobile = "mobile", _l("手机端")  # the farmers' mobile page
    sms = "sms", _l("短信")  # a text message, transcribed by staff
    phone = "phone", _l("电话")  # a call taken by staff
    visit = "visit", _l("来访")  # at the office



class CaseState(Labelled):
    received = "received", _l("已受理")  # 已受理: waiting for the handling unit to take it up
    in_progress = "in_progress", _l("办理中")  # 办理中
    replied = "replied", _l("已答复")  # 已答复 (办结): waiting for the farmer's rating
    closed = "closed", _l("已办结")  # 已办结归档: rated, or unrated for 7 days
    rejected = "rejected", _l("不予受理")  # 不予受理 (invalid: spam, not a matter for the platform): in no rate
    merged = "merged", _l("已合并")  # 已合并: a duplicate, handled as the earlier case it is linked to; in no rate


_DERIVED = ("OPEN_STATES", "COMPLETED_STATES", "EXCLUDED_STATES")


def __getattr__(name: str):
    """The sets of states derived from the transition table (the table needs these models,
    so they are looked up there when first asked for, not defined twice)."""
    if name in _DERIVED:
        from subsidy.cases import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Rating(Labelled):
    very_satisfied = "very_satisfied", _l("非常满意")
    satisfied = "satisfied", _l("满意")
    basically_satisfied = "basically_satisfied", _l("基本满意")
    dissatisfied = "dissatisfied", _l("不满意")
    very_dissatisfied = "very_dissatisfied", _l("非常不满意")


# 满意率 = (满意 + 非常满意) ÷ rated (docs/design.md "Cases").
SATISFIED = (Rating.very_satisfied, Rating.satisfied)
# 不满意 or worse reopens the case.
UNSATISFIED = (Rating.dissatisfied, Rating.very_dissatisfied)


class EventKind(Labelled):
    received = "received", _l("受理")
    accepted = "accepted", _l("开始办理")
    transferred = "transferred", _l("转办")
    replied = "replied", _l("答复（办结）")
    escalated = "escalated", _l("督办")
    rated = "rated", _l("回访评价")
    reopened = "reopened", _l("重新办理")
    rejected = "rejected", _l("不予受理")
    closed = "closed", _l("归档")
    deadline_changed = "deadline_changed", _l("期限调整")
    merged = "merged", _l("合并")



class Case(db.Model):
    """One inquiry, complaint or objection, from receipt to its closing."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref_no: Mapped[str] = mapped_column(sa.String(20), unique=True)
    kind: Mapped[CaseKind] = mapped_column(enum_column(CaseKind))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    state: Mapped[CaseState] = mapped_column(enum_column(CaseState), default=CaseState.received)
    # Bumped by every transition with a conditional UPDATE: two handlers cannot both win.
    version: Mapped[int] = mapped_column(default=1)

    # What the case is about: a village (12 digits) or, for a complaint about a township, the
    # township (9 digits); inquiries may also concern a township or the county as a whole.
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))  # see ix_cases_region_received
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("filing_entries.id"), index=True)
    contact_name: Mapped[str] = mapped_column(sa.String(40), default="")
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    subject: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)

    # The handling unit (承办单位) and, once escalated, the tier above that watches it.
    assigned_region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))
    escalated_to_code: Mapped[str | None] = mapped_column(sa.ForeignKey("regions.code"), index=True)
    escalation_count: Mapped[int] = mapped_column(default=0)
    overdue_at: Mapped[datetime | None]  # when `cases escalate` found it past its deadline

    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The moment the current deadline counts from: the receipt, or the last reopening.
    clock_from: Mapped[datetime] = mapped_column(default=utcnow)
    due_days: Mapped[int]  # the working days allowed, as the county set them at receipt
    due_at: Mapped[datetime]  # 23:59:59 China time on the last working day allowed
    # The deadline was reckoned through a year no calendar covers yet (暂定; see cases.calendar).
    due_provisional: Mapped[bool] = mapped_column(default=False)
    accepted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reply_body: Mapped[str | None] = mapped_column(sa.Text)
    finding: Mapped[Finding | None] = mapped_column(enum_column(Finding))  # with the reply (FINDING_KINDS)
    # Working days from the day received to the day replied (0 = answered the same day).
    reply_working_days: Mapped[int | None]
    completed_late: Mapped[bool] = mapped_column(default=False)

    rating: Mapped[Rating | None] = mapped_column(enum_column(Rating))
    rating_reason: Mapped[str | None] = mapped_column(sa.Text)
    rated_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    reject_reason: Mapped[str | None] = mapped_column(sa.Text)
    # A duplicate is merged into the earlier case it repeats, and answered with it.
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)

    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    region: Mapped[Region] = relationship(foreign_keys=[region_code], lazy="joined")
    assigned_region: Mapped[Region] = relationship(foreign_keys=[assigned_region_code], lazy="joined")
    escalated_to: Mapped[Region | None] = relationship(foreign_keys=[escalated_to_code])
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id",
                                                   cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (
        sa.Index("ix_cases_assigned_state_due", "assigned_region_code", "state", "due_at"),
        sa.Index("ix_cases_state_due", "state", "due_at"),
        sa.Index("ix_cases_region_received", "region_code", "received_at"),
        sa.Index("ix_cases_due_provisional", "region_code", postgresql_where=sa.text("due_provisional"),
                 sqlite_where=sa.text("due_provisional")),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("reopen_count >= 0", name="reopen_count_non_negative"),
        sa.CheckConstraint("escalation_count >= 0", name="escalation_count_non_negative"),
        sa.CheckConstraint("due_days >= 1 AND due_days <= 60", name="due_days_range"),
        sa.CheckConstraint("kind <> 'objection' OR entry_id IS NOT NULL", name="objection_has_entry"),
        # docs/design.md "Cases": a complaint is never handled by the region it accuses (nor by a
        # unit under it). Kept in the schema so that no code path can break it.
        sa.CheckConstraint(
            "kind <> 'complaint' OR substr(assigned_region_code, 1, length(region_code)) <> region_code",
            name="complaint_not_handled_by_accused",
        ),
        sa.CheckConstraint("state NOT IN ('replied', 'closed') OR replied_at IS NOT NULL", name="completed_has_reply"),
        sa.CheckConstraint("(state = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"),
    )

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def state_label(self) -> str:
        return self.state.label

    @property
    def channel_label(self) -> str:
        return self.channel.label

    @property
    def rating_label(self) -> str:
        return self.rating.label if self.rating else ""

    @property
    def is_open(self) -> bool:
        from subsidy.cases.workflow import OPEN_STATES

        return self.state in OPEN_STATES

    def __repr__(self) -> str:
        return f"<Case {self.ref_no} {self.state.value}>"


class CaseEvent(db.Model):
    """The timeline: every step of a case, with who took it and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(sa.String(80))  # a user's name, 农户 or 系统
    note: Mapped[str] = mapped_column(sa.Text, default="")
    from_state: Mapped[str | None] = mapped_column(sa.String(20))
    to_state: Mapped[str | None] = mapped_column(sa.String(20))
    from_region_code: Mapped[str | None] = mapped_column(sa.String(12))
    to_region_code: Mapped[str | None] = mapped_column(sa.String(12))

    case: Mapped[Case] = relationship(back_populates="events")

    @property
    def label(self) -> str:
        return self.kind.label


class CaseCounter(db.Model):
    """The last reference number given per (kind, year): ZX-2017-000123 is the 123rd inquiry
    of 2017. Incremented with one atomic UPDATE … RETURNING, so concurrent receipts never
    share a number."""

    __tablename__ = "case_counters"

    kind: Mapped[CaseKind] = mapped_column(enum_column(CaseKind), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CaseSettings(db.Model):
    """A county's time limits in working days (defaults: inquiry 3, objection 5, complaint 15)."""

    __tablename__ = "case_settings"

    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), primary_key=True)
    inquiry_days: Mapped[int] = mapped_column(default=3)
    complaint_days: Mapped[int] = mapped_column(default=15)
    objection_days: Mapped[int] = mapped_column(default=5)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.CheckConstraint("inquiry_days BETWEEN 1 AND 60 AND complaint_days BETWEEN 1 AND 60"
                           " AND objection_days BETWEEN 1 AND 60", name="days_range"),
    )


class WorkCalendarDay(db.Model):
    """A county's override of one day (调休 make-up workday, holiday, or a regional holiday
    such as Ningxia's 开斋节). An override wins over `chinese_calendar`."""

    __tablename__ = "work_calendar_days"

    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    is_workday: Mapped[bool]
    note: Mapped[str] = mapped_column(sa.String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class WorkCalendarYear(db.Model):
    """A year whose calendar the county has loaded completely: every holiday and make-up
    workday of that year is an override row, and every other day follows the week (Monday to
    Friday work). A year is covered when `chinese_calendar` knows it or it has a row here."""

    __tablename__ = "work_calendar_years"

    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20), default="manual")  # xlsx or manual
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    marked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (sa.CheckConstraint("year >= 2000 AND year <= 2100", name="year_range"),)

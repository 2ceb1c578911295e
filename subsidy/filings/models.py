"""Filings and what hangs off them (docs/design.md "Three-level filing and review")."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subsidy.common.labels import Labelled, _l
from subsidy.common.model_base import Area, Money, enum_column
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.projects.models import Project
from subsidy.regions.models import Level, Region


class FilingState(Labelled):
    draft = "draft", _l("草稿")  # the village edits the list
    publicizing = "publicizing", _l("公示中")  # 公示: the list is on the village board
    village_filed = "village_filed", _l("村级已备案")  # 村级备案: waiting for the township
    township_approved = "township_approved", _l("乡镇已审核")  # 乡镇审核通过: waiting for the county
    county_approved = "county_approved", _l("县级已审定")  # 县级审定: to be paid
    paid = "paid", _l("已发放")  # paid through payment batches



class Action(Labelled):
    publicize = "publicize", _l("公示")
    withdraw = "withdraw", _l("撤回公示")
    submit = "submit", _l("村级备案")
    approve = "approve", _l("审核通过")
    return_ = "return", _l("退回")
    pay = "pay", _l("发放完成")  # driven by the payments area, never by a page or the API
    reopen = "reopen", _l("发起更正")  # 更正/补报 of an approved or paid list (the county)



class Stage(Labelled):
    """The list as each tier filed it (备案快照)."""

    publicized = "publicized", _l("公示名单")
    village = "village", _l("村级备案")
    township = "township", _l("乡镇审核")
    county = "county", _l("县级审定")
    paid = "paid", _l("发放")



class FlagCode(Labelled):
    invalid_id = "invalid_id", _l("身份证号无效")
    duplicate_id = "duplicate_id", _l("身份证号重复申报")
    amount_above_rate = "amount_above_rate", _l("金额超标准")
    quantity_above_land = "quantity_above_land", _l("数量超登记面积")
    shared_account = "shared_account", _l("一卡通账号多户共用")
    # Across the counties of a city, for the same subsidy type and year (see risk.py); the code
    # column is as wide as the longest value (migration 0024).
    shared_account_other_county = "shared_account_other_county", _l("一卡通账号与外县同类补贴农户共用")
    shared_phone_other_county = "shared_phone_other_county", _l("手机号码与外县同类补贴农户共用")
    watch_list = "watch_list", _l("比对名单人员")
    no_phone = "no_phone", _l("无手机号码")



class WatchCategory(Labelled):
    deceased = "deceased", _l("已故")
    public_payroll = "public_payroll", _l("财政供养人员")
    village_cadre = "village_cadre", _l("村干部")
    cadre_relative = "cadre_relative", _l("村干部亲属")



def _state_enum(name: str) -> sa.Enum:
    """FilingState stored twice in one table needs two distinctly named CHECK constraints."""
    return sa.Enum(FilingState, native_enum=False, create_constraint=True, name=name,
                   length=max(len(m.value) for m in FilingState),
                   values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Filing(db.Model):
    """One project's household list in one village, and where it stands in the review."""

    __tablename__ = "filings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"), index=True)
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"), index=True)  # the village
    state: Mapped[FilingState] = mapped_column(enum_column(FilingState), default=FilingState.draft)
    # Bumped by every transition with a conditional UPDATE: a stale version is a 409.
    version: Mapped[int] = mapped_column(default=1)
    # Publicity rounds: 1 at the first publicity, +1 at each later one. Snapshots and notes
    # belong to a round, so a list publicized again is compared with its own publicity.
    round: Mapped[int] = mapped_column(default=0)
    # The list was edited since it was last publicized (it must be publicized again).
    list_changed: Mapped[bool] = mapped_column(default=False)
    # A correction (更正) in progress: the round whose county-approved list it corrects; the
    # changes are shown and reviewed against that list, and cleared at the county's approval.
    correction_of_round: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    publicized_at: Mapped[datetime | None]
    publicity_ends_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("project_id", "region_code", name="uq_filings_project_village"),
        # Target of the entries' composite foreign key (an entry's project is its filing's).
        sa.UniqueConstraint("id", "project_id", name="uq_filings_id_project"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("length(region_code) = 12", name="filed_by_a_village"),
        sa.Index("ix_filings_state_changed", "state", "state_changed_at"),
    )

    @property
    def state_label(self) -> str:
        return self.state.label


class ListStamp(db.Model):
    """A filing's list stamp: replaced by database triggers (migration 0009) whenever the live
    list changes, i.e. an entry of the filing or the ID number or payout account of a listed
    household, whoever changes it and however (the app or plain SQL); the row itself is made
    by a trigger when the filing is. Random, so never reused even after a rollback: what is
    cached under a stamp (`snapshots.cached_live_digest`) is the data of that stamp.

    A table of its own, not a column of `filings`: a household's update stamps the filings
    that list it, and that lock must not be one the workflow takes on a filing (an approval
    holds its filing while it owes SMS to the households, which an import may hold)."""

    __tablename__ = "filing_list_stamps"

    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id", ondelete="CASCADE"), primary_key=True)
    stamp: Mapped[str] = mapped_column(sa.String(32))


class Entry(db.Model):
    """One household in one filing. `project_id` is copied from the filing so the database
    itself keeps a household to one entry per project across every village."""

    __tablename__ = "filing_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(index=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id"))
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Area)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.ForeignKeyConstraint(["filing_id", "project_id"], ["filings.id", "filings.project_id"],
                                name="fk_filing_entries_filing_id_filings"),
        sa.UniqueConstraint("project_id", "household_id", name="uq_filing_entries_project_household"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("amount >= 0", name="amount_non_negative"),
    )


class HoldStatus(Labelled):
    held = "held", _l("止付中")
    released = "released", _l("已解除")


class EntryHold(db.Model):
    """止付: an entry kept from payment while a problem is checked (docs/design.md "Supervision with
    consequences"). One open hold per entry (a partial unique index); released, never deleted."""

    __tablename__ = "entry_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_entries.id"), index=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))  # the village, for scope and counts
    status: Mapped[HoldStatus] = mapped_column(enum_column(HoldStatus), default=HoldStatus.held)
    reason: Mapped[str] = mapped_column(sa.Text)
    held_at: Mapped[datetime] = mapped_column(default=utcnow)
    held_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    release_reason: Mapped[str | None] = mapped_column(sa.Text)
    released_at: Mapped[datetime | None]
    released_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The payment the hold cancelled (its batch not yet exported), if any.
    cancelled_payment_id: Mapped[int | None] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.Index("uq_entry_holds_open", "entry_id", unique=True, sqlite_where=sa.text("status = 'held'"),
                 postgresql_where=sa.text("status = 'held'")),
        sa.CheckConstraint("(status = 'released') = (released_at IS NOT NULL)", name="released_has_time"),
    )


class Review(db.Model):
    """Every transition of a filing: who, at which tier, what, why, from and to."""

    __tablename__ = "filing_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    tier: Mapped[Level] = mapped_column(enum_column(Level))
    action: Mapped[Action] = mapped_column(enum_column(Action))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(sa.String(80))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_state: Mapped[FilingState] = mapped_column(_state_enum("from_state"))
    to_state: Mapped[FilingState] = mapped_column(_state_enum("to_state"))
    version: Mapped[int]  # the filing's version after this transition

    # "Reached a state at some time" (stats.queries) probes this per filing, from the index alone.
    __table_args__ = (sa.Index("ix_filing_reviews_filing_state", "filing_id", "to_state"),)


class Snapshot(db.Model):
    """备案快照: the list as one tier filed it, with its canonical SHA-256 digest."""

    __tablename__ = "filing_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    round: Mapped[int]
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    digest: Mapped[str] = mapped_column(sa.String(64), default="")
    entry_count: Mapped[int] = mapped_column(default=0)
    total_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    taken_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class SnapshotLine(db.Model):
    """One line of a snapshot, copied from the entry and the register at that moment."""

    __tablename__ = "filing_snapshot_lines"

    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_snapshots.id", ondelete="CASCADE"),
                                             primary_key=True)
    household_id: Mapped[int] = mapped_column(primary_key=True)  # no FK: the record outlives the register
    head_name: Mapped[str] = mapped_column(sa.String(40))
    id_number: Mapped[str] = mapped_column(sa.String(18))
    quantity: Mapped[Decimal] = mapped_column(Area)
    amount: Mapped[Decimal] = mapped_column(Money)
    payout_account: Mapped[str | None] = mapped_column(sa.String(32))


class EntryFlag(db.Model):
    """A risk found on an entry by `risk.py`; recomputed at publicity and at each review."""

    __tablename__ = "filing_entry_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_entries.id", ondelete="CASCADE"))
    code: Mapped[FlagCode] = mapped_column(enum_column(FlagCode))
    explanation: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("entry_id", "code", name="uq_filing_entry_flags_entry_code"),)


class EntryNote(db.Model):
    """A reviewer's note on an entry: answers its risk flags and stays in the record."""

    __tablename__ = "filing_entry_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(sa.ForeignKey("filings.id"), index=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("filing_entries.id", ondelete="CASCADE"), index=True)
    round: Mapped[int]
    tier: Mapped[Level] = mapped_column(enum_column(Level))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(sa.String(80))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatchListEntry(db.Model):
    """比对名单: people who must not (or not without a look) receive a subsidy."""

    __tablename__ = "watchlist_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(sa.ForeignKey("regions.code"))
    id_number: Mapped[str] = mapped_column(sa.String(18), index=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[WatchCategory] = mapped_column(enum_column(WatchCategory))
    source: Mapped[str] = mapped_column(sa.String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("county_code", "id_number", "category", name="uq_watchlist_entries_county_id_category"),
    )

    @property
    def category_label(self) -> str:
        return self.category.label

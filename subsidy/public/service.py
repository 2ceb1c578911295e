"""What the farmers' pages read: the village board, "my subsidies", the SMS sent to a
household, and mobile coverage for /stats/summary and the county.

The farmer is not a staff user: these functions take the signed-in household's id (from the
farmer session, see `subsidy.public.farmer`) and never an id typed into a URL for anything
personal. Names and ID numbers leave this module masked whenever a page is public."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.common.database import plain_rows
from subsidy.common.masking import account_tail, mask_id_number, mask_name
from subsidy.errors import NotFound
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.households.models import Household
from subsidy.notify.models import Message
from subsidy.payments.lookup import join_shown_payment, payment_view
from subsidy.projects.amounts import goods_due
from subsidy.projects.models import Category, Project
from subsidy.public.models import MobileSignIn
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import ensure_visible, normalize_code, within

# --- farmer words for a filing's stage ------------------------------------------------------------

APPROVED_STATES = (FilingState.county_approved, FilingState.paid)

# state -> (label, tone, what to do)
STAGES: dict[FilingState, tuple[str, str, str]] = {
    FilingState.draft: ("村里正在整理名单", "wait", "名单整理好后会在村公示栏公示，请留意。"),
    FilingState.publicizing: ("公示中", "wait", "请在公示期内核对；有问题可以在村公示栏上“提出异议”。"),
    FilingState.village_filed: ("乡镇审核中", "wait", "村里已上报，乡镇正在审核，不需要您做什么。"),
    FilingState.township_approved: ("县级审核中", "wait", "乡镇已审核通过，县里正在审定。"),
    FilingState.county_approved: ("县级已审定", "ok", "已审定，等待发放到您的一卡通。发放后会短信通知您。"),
    FilingState.paid: ("已发放", "ok", "已发放到您的一卡通，请查收。没有收到请点“我要咨询/投诉”。"),
}
# 止付: what the farmer reads, never the reason (it may name the person who reported it).
HELD_STAGE = ("暂停发放，正在核查", "wait", "县里正在核查这笔补贴，核查后会短信告诉您结果。有疑问可以提出咨询。")
# 实物补贴: goods picked up at the village, never money on a card (docs/design.md "Material subsidies").
MATERIAL_STAGES: dict[FilingState, tuple[str, str, str]] = {
    FilingState.county_approved: ("县级已审定", "ok", "已审定，请按村里通知带上身份证领取实物，领取时签字。"
                                  "领取后请核对下面的领取记录。"),
    FilingState.paid: ("发放完毕", "ok", "实物已发放完毕。请核对下面村里登记的领取记录，没有领到请点“没有领到”。"),
}
FAILED_STAGE = ("发放失败", "bad", "银行退回了这笔钱，常见原因是一卡通账号有误或已销户。请带上一卡通和身份证到村委会"
                "核对账号，核对后会重新发放。")


@dataclass
class MyEntry:
    entry_id: int
    year: int
    project: str
    unit: str
    quantity: Decimal
    amount: Decimal
    state: FilingState
    stage: str
    tone: str
    advice: str
    village: str
    publicity_ends_at: datetime | None = None
    paid_at: datetime | None = None
    account_tail: str = ""
    payment_id: int | None = None  # set when 我已收到 / 没有收到 apply
    receipt: str | None = None
    # 实物补贴: the goods, what is due and what was picked up
    item: str | None = None
    item_unit: str | None = None
    goods_due: Decimal | None = None
    goods_received: Decimal | None = None
    pickups: list = field(default_factory=list)  # each recorded pickup, for 我已领取 / 没有领到
    collect_at: object | None = None  # the village's MaterialList: where and when to collect


# The farmer's page runs these on every view: built once, with the household as a parameter,
# they cost no statement building nor cache-key walk per request.
_MY_ENTRIES = join_shown_payment(
    sa.select(Entry.id, Entry.quantity, Entry.amount, Filing.state, Filing.state_changed_at,
              Filing.publicity_ends_at, Project.year, Project.name, Project.unit, Region.name,
              Household.payout_account, Project.category, Project.rate, Project.item, Project.item_unit)
    .join(Filing, Filing.id == Entry.filing_id)
    .join(Project, Project.id == Entry.project_id)
    .join(Region, Region.code == Filing.region_code)
    .join(Household, Household.id == Entry.household_id)
    .where(Entry.household_id == sa.bindparam("household_id")), Entry.id,
).order_by(Project.year.desc(), Project.name, Entry.id)
_MY_MESSAGES = (
    sa.select(Message.created_at, Message.body)
    .where(Message.household_id == sa.bindparam("household_id"), Message.template != "login_code")
    .order_by(Message.created_at.desc(), Message.id.desc()).limit(sa.bindparam("limit")))
_MY_HOUSEHOLD = (
    sa.select(Household.id, Household.head_name, Household.id_number, Household.phone, Region.name, Region.code)
    .join(Region, Region.code == Household.region_code).where(Household.id == sa.bindparam("household_id")))


def my_entries(household_id: int) -> list[MyEntry]:
    """Every entry of the household, newest year first, with its stage in farmer words and
    what became of its money (the payments area's `payment_view`)."""
    from subsidy.filings.holds import held_entries

    out = []
    rows = plain_rows(_MY_ENTRIES, {"household_id": household_id}).all()
    held = held_entries(r[0] for r in rows)
    material = [r[0] for r in rows if r[11] == Category.material]
    picked = _goods_received(material)
    pickups, lists = _pickups_and_lists(material)
    for (entry_id, quantity, amount, state, changed_at, ends_at, year, project, unit, village, account,
         category, rate, goods, goods_unit, *shown) in rows:
        label, tone, advice = STAGES[state]
        item = MyEntry(entry_id, year, project, unit.label, quantity, amount, state,
                       label, tone, advice, village, publicity_ends_at=ends_at)
        if category == Category.material:
            if entry_id in held:
                item.stage, item.tone, item.advice = HELD_STAGE
            else:
                item.stage, item.tone, item.advice = MATERIAL_STAGES.get(state, (label, tone, advice))
            item.item, item.item_unit = goods, goods_unit
            item.goods_due = goods_due(rate, quantity)
            item.goods_received = picked.get(entry_id, Decimal("0.00"))
            item.pickups, item.collect_at = pickups.get(entry_id, []), lists.get(entry_id)
            out.append(item)
            continue
        payment = payment_view(*shown)
        if payment is not None and payment.status == "failed":
            item.stage, item.tone, item.advice = FAILED_STAGE
            if payment.reason:
                item.advice = f"银行退回原因：{payment.reason}。" + item.advice
        elif payment is not None and payment.status == "paid":
            item.stage, item.tone, item.advice = STAGES[FilingState.paid]
            item.paid_at, item.account_tail = payment.at, account_tail(payment.account)
            item.payment_id, item.receipt = payment.payment_id, payment.receipt
        elif entry_id in held:
            item.stage, item.tone, item.advice = HELD_STAGE
        elif state is FilingState.paid:
            # A paid filing with no payment recorded for this entry: the date the filing was
            # paid and the household's registered account.
            item.paid_at, item.account_tail = changed_at, account_tail(account)
        out.append(item)
    return out


def _goods_received(entry_ids: list[int]) -> dict[int, Decimal]:
    from subsidy.materials.models import MaterialPickup

    if not entry_ids:
        return {}
    return {e: Decimal(q).quantize(Decimal("0.01")) for e, q in db.session.execute(
        sa.select(MaterialPickup.entry_id, sa.func.sum(MaterialPickup.quantity))
        .where(MaterialPickup.entry_id.in_(entry_ids)).group_by(MaterialPickup.entry_id))}


def _pickups_and_lists(entry_ids: list[int]) -> tuple[dict, dict]:
    """{entry id: its pickups} and {entry id: its village's list (place and days)}."""
    from subsidy.materials.models import MaterialList
    from subsidy.materials.receipts import pickups_of

    if not entry_ids:
        return {}, {}
    lists = dict(db.session.execute(sa.select(Entry.id, MaterialList).join(
        MaterialList, MaterialList.filing_id == Entry.filing_id).where(Entry.id.in_(entry_ids))).all())
    return pickups_of(entry_ids), lists


def project_of(project_id: int) -> Project:
    return db.session.get(Project, project_id)


def my_messages(household_id: int, limit: int = 30) -> list[sa.Row]:
    """The SMS owed to the household, newest first, as (created_at, body) rows; sign-in codes are
    left out (noise, and a code on the screen is a code someone looking over a shoulder can read)."""
    return plain_rows(_MY_MESSAGES, {"household_id": household_id, "limit": limit}).all()


@dataclass
class MyHousehold:
    """What "my subsidies" says about the signed-in household (the page masks the ID number)."""

    id: int
    head_name: str
    id_number: str
    phone: str | None
    village: str
    village_code: str


def my_household(household_id: int) -> MyHousehold:
    row = plain_rows(_MY_HOUSEHOLD, {"household_id": household_id}).first()
    if row is None:
        raise NotFound("农户不存在")
    return MyHousehold(*row)


def get_household(household_id: int) -> Household:
    household = db.session.get(Household, household_id)
    if household is None:
        raise NotFound("农户不存在")
    return household


# --- regions as a visitor sees them --------------------------------------------------------------

def get_village(code: str) -> Region:
    try:
        code = normalize_code(code)
    except Exception:
        raise NotFound("没有这个村") from None
    region = db.session.get(Region, code)
    if region is None or region.level is not Level.village:
        raise NotFound("没有这个村")
    return region


def find_region(code: str | None) -> Region | None:
    if not code:
        return None
    try:
        return db.session.get(Region, normalize_code(code))
    except Exception:
        return None


def counties() -> list[Region]:
    return list(db.session.scalars(sa.select(Region).where(Region.level == Level.county).order_by(Region.code)))


def townships_of(county_code: str) -> list[Region]:
    return list(db.session.scalars(sa.select(Region).where(within(Region.code, county_code),
                                                           Region.level == Level.township).order_by(Region.code)))


def get_township(code: str | None) -> Region | None:
    region = find_region(code)
    return region if region is not None and region.level is Level.township else None


def villages_of(code: str) -> list[Region]:
    return list(db.session.scalars(sa.select(Region).where(within(Region.code, code), Region.level == Level.village)
                                   .order_by(Region.code)))


# --- the village publicity board -----------------------------------------------------------------

@dataclass
class BoardLine:
    entry_id: int | None  # None: a line a correction took off (nothing left to object to)
    name: str        # masked
    id_number: str   # masked
    quantity: Decimal
    amount: Decimal
    change: str = ""  # on a correction notice: 新增, 变更 or 取消
    was_amount: Decimal | None = None


@dataclass
class BoardList:
    filing_id: int
    project: str
    year: int
    unit: str
    rate: Decimal
    state: FilingState
    publicized_at: datetime | None
    publicity_ends_at: datetime | None
    lines: list[BoardLine] = field(default_factory=list)
    correction: bool = False  # 更正公示: only the lines the correction changes

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    @property
    def objectable(self) -> bool:
        return self.state is FilingState.publicizing


@dataclass
class Board:
    village: Region
    township: Region | None
    publicizing: list[BoardList]
    approved: list[BoardList]


def village_board(code: str) -> Board:
    """The village's publicity board: lists being publicized, and the approved lists of the
    village's two latest project years, with names and ID numbers masked (docs/design.md: 张*华,
    640425********1234)."""
    village = get_village(code)
    filings = list(db.session.scalars(
        sa.select(Filing).join(Project, Project.id == Filing.project_id)
        .where(Filing.region_code == village.code,
               Filing.state.in_((FilingState.publicizing, *APPROVED_STATES)))
        .order_by(Project.year.desc(), Filing.publicized_at.desc(), Filing.id)))
    latest = max((f.project.year for f in filings if f.state in APPROVED_STATES), default=0)
    filings = [f for f in filings if f.state is FilingState.publicizing or f.project.year >= latest - 1]
    lists: dict[int, BoardList] = {}
    for f in filings:
        lists[f.id] = BoardList(f.id, f.project.name, f.project.year, f.project.unit_label, f.project.rate, f.state,
                                f.publicized_at, f.publicity_ends_at)
    if lists:
        changes = _corrections(f for f in filings if f.state is FilingState.publicizing)
        rows = db.session.execute(
            sa.select(Entry.filing_id, Entry.id, Household.head_name, Household.id_number, Entry.quantity, Entry.amount,
                      Entry.household_id)
            .join(Household, Household.id == Entry.household_id)
            .where(Entry.filing_id.in_(list(lists))).order_by(Entry.filing_id, Entry.id))
        for filing_id, entry_id, name, id_number, quantity, amount, household_id in rows:
            change, was = "", None
            if filing_id in changes:
                if household_id not in changes[filing_id]:
                    continue  # unchanged by the correction: not on its notice
                change, was = changes[filing_id][household_id]
                if change == "变更" and amount == 0:
                    change = "取消"
            lists[filing_id].lines.append(BoardLine(entry_id, mask_name(name), mask_id_number(id_number),
                                                    quantity, amount, change, was))
        for filing_id, gone in changes.items():
            lists[filing_id].correction = True
            for line in gone.get(None, []):  # households a correction deleted from the list
                lists[filing_id].lines.append(BoardLine(None, mask_name(line.head_name),
                                                        mask_id_number(line.id_number), line.quantity, Decimal("0"),
                                                        "取消", line.amount))
    township = db.session.get(Region, village.parent_code) if village.parent_code else None
    return Board(village, township,
                 [b for b in lists.values() if b.state is FilingState.publicizing],
                 [b for b in lists.values() if b.state in APPROVED_STATES])


def _corrections(filings) -> dict[int, dict]:
    """For each correction being publicized: {household id: (change, amount before)} of the
    lines it changes, and under None the lines it deleted."""
    from subsidy.filings.snapshots import correction_changes

    out: dict[int, dict] = {}
    for f in filings:
        found = correction_changes(f)
        if found is None:
            continue
        changed, removed = found
        changes: dict = {hid: ("新增", None) if was is None else ("变更", was) for hid, was in changed.items()}
        changes[None] = removed
        out[f.id] = changes
    return out


def board_entry(village_code: str, entry_id: int) -> tuple[Region, BoardList, BoardLine]:
    """One line of a list now being publicized in that village (what an objection is about)."""
    board = village_board(village_code)
    for lst in board.publicizing:
        for line in lst.lines:
            if line.entry_id == entry_id:
                return board.village, lst, line
    raise NotFound("该名单不在公示中，或没有这一户")


# --- mobile coverage (手机端覆盖率) ----------------------------------------------------------------

def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _mobile_block(households: int, signed_in: int) -> dict:
    return {"households": households, "households_signed_in": signed_in, "coverage_rate": _rate(signed_in, households)}


def mobile_summaries(region_code: str, width: int) -> tuple[dict[str, dict], dict]:
    """The `mobile` block of every region of code length `width` under the region, and the
    region's own (their sum: a household lies in one village), from one GROUP BY (none when
    `width` is the region's own: SQLite groups by an expression slowly)."""
    key = sa.func.substr(Household.region_code, 1, width) if width != len(region_code) else sa.literal(region_code)
    stmt = (sa.select(key, sa.func.count(Household.id), sa.func.count(MobileSignIn.household_id))
            .select_from(Household).outerjoin(MobileSignIn, MobileSignIn.household_id == Household.id)
            .where(within(Household.region_code, region_code)))
    if width != len(region_code):
        stmt = stmt.group_by(key)
    groups, households, signed_in = {}, 0, 0
    for k, n, s in db.session.execute(stmt):
        if n:
            groups[k] = _mobile_block(n, s)
        households, signed_in = households + n, signed_in + s
    return groups, _mobile_block(households, signed_in)


def mobile_summary(region_code: str) -> dict:
    """docs/api.md `mobile` block: households under the region, those that have ever signed in on
    the mobile pages, and the rate (3 decimals, null when there are no households)."""
    code = normalize_code(region_code)
    return mobile_summaries(code, len(code))[1]


@dataclass
class CoverageRow:
    region: Region
    households: int
    signed_in: int

    @property
    def rate(self) -> float | None:
        return _rate(self.signed_in, self.households)


@requires(Perm.view_register)
def coverage_by_village(actor, region_code: str | None = None) -> tuple[dict, list[CoverageRow]]:
    """Coverage per village under the actor's region (or a region under it), one GROUP BY."""
    code = normalize_code(region_code) if region_code else actor.region_code
    ensure_visible(actor, code, "行政区划")
    counts = {code: (n, s) for code, n, s in db.session.execute(
        sa.select(Household.region_code, sa.func.count(Household.id), sa.func.count(MobileSignIn.household_id))
        .select_from(Household).outerjoin(MobileSignIn, MobileSignIn.household_id == Household.id)
        .where(within(Household.region_code, code)).group_by(Household.region_code))}
    rows = [CoverageRow(v, *counts.get(v.code, (0, 0))) for v in villages_of(code)]
    return mobile_summary(code), rows


# --- posters for the village notice boards ---------------------------------------------------------

@dataclass
class Poster:
    village: Region
    township: Region | None
    url: str


@requires(Perm.view_register)
def posters(actor, region_code: str | None = None) -> list[Poster]:
    """One A4 poster per village under the region (a township prints all its villages at once)."""
    from subsidy.public.qr import village_url

    code = normalize_code(region_code) if region_code else actor.region_code
    ensure_visible(actor, code, "行政区划")
    villages = villages_of(code) if len(code) < 12 else [get_village(code)]
    townships = {r.code: r for r in db.session.scalars(
        sa.select(Region).where(Region.code.in_({v.parent_code for v in villages if v.parent_code})))}
    return [Poster(v, townships.get(v.parent_code), village_url(v.code)) for v in villages]

"""A few weeks of the demo county's work, so that a newcomer finds every step of docs/design.md
waiting for someone: filings in every state (publicity periods already over), cases in every
state (overdue and 督办 among them, rated ones), a payment batch with paid and failed payments,
SMS sent, delivered and failed.

Everything goes through the services and state machines, each step at the moment it plausibly
happened: the steps of all the scripts below run in time order, each with the clock set to its
moment (time-machine), so reviews, case events, snapshots, SMS and audit events carry those
times. Where each role finds its work is in README "Trying it"."""
from __future__ import annotations

import heapq
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from subsidy.accounts.models import Role, User
from subsidy.common.timeutil import CHINA_TZ, local_today
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState
from subsidy.households.models import Household
from subsidy.projects.models import Project

COUNTY = "640425"
TOWNSHIP = "640425100"  # 白阳镇, the demo township reviewer's
OTHER_TOWNSHIP = "640425101"  # 王洼镇: a second township, so the dashboard compares two
# The villages of 白阳镇 by their place in the township (201, 202, …): what each one's filing shows.
V0 = TOWNSHIP + "201"  # the demo village clerk's own village

RETURN_REASON = "第 3、7 户存栏数与畜牧站核实数不一致，请入户核实后重新公示"
Script = Iterator[datetime]


_TODAY: list = []  # the real today, fixed before the clock travels (load_scenario)


def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A moment `days_ago` days before the real today, at China office time."""
    day = (_TODAY[0] if _TODAY else local_today()) - timedelta(days=days_ago)
    return datetime.combine(day, time(hour, minute), CHINA_TZ).astimezone(UTC)


class Cast:
    """The people who act: the demo users and a clerk for each village that files."""

    def __init__(self):
        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        self.clerk = users["village"]
        self.township = users["township"]
        self.county = users["county"]
        self.supervisor = users["supervisor"]
        self._hash = None
        self.other_township = self._user(f"t{OTHER_TOWNSHIP}", "王洼镇审核员", Role.township_reviewer,
                                         OTHER_TOWNSHIP)

    def _user(self, username: str, name: str, role: Role, region: str) -> User:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            from subsidy.demo import DEMO_PASSWORD

            self._hash = self._hash or generate_password_hash(DEMO_PASSWORD)
            user = User(username=username, name=name, role=role, region_code=region, password_hash=self._hash,
                        phone="1390954" + region[-4:])
            db.session.add(user)
            db.session.flush()
        return user

    def clerk_of(self, village: str) -> User:
        if village == self.clerk.region_code:
            return self.clerk
        from subsidy.demo import region_names

        return self._user(f"c{village}", region_names()[village] + "经办员", Role.village_clerk, village)

    def reviewer_of(self, village: str) -> User:
        return self.township if village.startswith(TOWNSHIP) else self.other_township


def _project(name_start: str, year: int) -> Project:
    return db.session.scalar(sa.select(Project).where(Project.county_code == COUNTY, Project.year == year,
                                                      Project.name.startswith(name_start)))


def _households(village: str, limit: int | None = None) -> list[Household]:
    stmt = sa.select(Household).where(Household.region_code == village).order_by(Household.id)
    return list(db.session.scalars(stmt.limit(limit) if limit else stmt))


# --- filings -----------------------------------------------------------------------------

def _act(actor, filing: Filing, action: str, **kw) -> None:
    from subsidy.filings import workflow

    workflow.perform(actor, filing.id, action, version=filing.version, **kw)


def _note_flags(actor, filing: Filing) -> None:
    from subsidy.filings import service

    for entry_id in db.session.scalars(sa.select(sa.distinct(EntryFlag.entry_id))
                                       .where(EntryFlag.filing_id == filing.id)):
        service.add_note(actor, filing.id, entry_id, "已入户核实，情况属实")


def filing_script(cast: Cast, project: Project, village: str, target: FilingState, start: int,
                  *, heads: bool = False, returned: bool = False, holder: dict | None = None) -> Script:
    """One village's filing of `project`, started `start` days ago, walked to `target` at the
    pace of people: publicized the day after, filed the morning the publicity ends, reviewed
    by the township two working days later, by the county two days after that."""
    from subsidy.filings import entries, service

    clerk, reviewer = cast.clerk_of(village), cast.reviewer_of(village)
    yield at(start, 9, 10)
    filing = service.start_filing(clerk, project.id, village)
    if holder is not None:
        holder["filing"] = filing
    if heads:  # per head: the clerk types the number of cows the livestock station counted
        for i, household in enumerate(_households(village, 8)):
            entries.add_entry(clerk, filing.id, household.id, quantity=1 + i % 4)
    else:
        entries.add_all_households(clerk, filing.id)
    if target == FilingState.draft and not returned:
        return
    yield at(start - 1, 9, 30)
    _act(clerk, filing, "publicize")
    if target == FilingState.publicizing:
        return
    yield filing.publicity_ends_at + timedelta(hours=1, minutes=12)
    _act(clerk, filing, "submit", comment="公示期满，无异议")
    if target == FilingState.village_filed:
        return
    filed = filing.state_changed_at
    yield filed + timedelta(days=2, hours=1)
    if returned:
        _act(reviewer, filing, "return", reason=RETURN_REASON)
        return
    _note_flags(reviewer, filing)
    _act(reviewer, filing, "approve", comment="经乡镇审核，名单与公示一致")
    if target == FilingState.township_approved:
        return
    yield filed + timedelta(days=4, hours=2)
    _act(cast.county, filing, "approve", comment="县级审定")


# --- payments ----------------------------------------------------------------------------

def _result_file(payments, failing: set[int]) -> io.BytesIO:
    import csv

    text = io.StringIO()
    out = csv.writer(text)
    out.writerow(["交易流水号", "状态", "失败原因", "银行流水号", "金额"])
    total = Decimal("0")
    for p in payments:
        failed = p.id in failing
        out.writerow([p.disbursement_id, "失败" if failed else "成功", "账户已冻结" if failed else "",
                      "" if failed else f"B{p.id:08d}", f"{p.amount:.2f}"])
        total += p.amount
    out.writerow(["合计", f"{len(payments)}笔", "", "", f"{total:.2f}"])
    return io.BytesIO(text.getvalue().encode("utf-8"))


def payment_script(cast: Cast, project: Project, settled: list[dict], pending: dict, cancelled: dict,
                   day: int) -> Script:
    """`day` days ago the county reviewer makes three batches: one settled by the bank's
    回盘 (paid, two failed), one exported and waiting for its 回盘, one withdrawn."""
    from subsidy.payments import files, results, service
    from subsidy.payments.models import Payment

    yield at(day, 15, 0)
    ids = [h["filing"].id for h in settled]
    batch = service.create_batch(cast.county, project.id, ids, note="第一批").batch
    files.export_batch(cast.county, batch.id)
    wrong = service.create_batch(cast.county, project.id, [cancelled["filing"].id], note="误选").batch
    yield at(day, 15, 20)
    service.cancel_batch(cast.county, wrong.id, "误选了尚待核实的村，作废后重新生成")
    yield at(day - 1, 10, 0)
    waiting = service.create_batch(cast.county, project.id, [pending["filing"].id], note="第二批").batch
    files.export_batch(cast.county, waiting.id)
    yield at(day - 2, 11, 30)
    payments = list(db.session.scalars(sa.select(Payment).where(Payment.batch_id == batch.id)
                                       .order_by(Payment.seq)))
    # Two failures, both in the last village of the batch (its clerk has accounts to fix).
    last = [p for p in payments if p.filing_id == ids[-1]]
    failing = {p.id for p in last[-2:]}
    results.import_results(cast.county, batch.id, _result_file(payments, failing), "回盘.csv")


def supervision_script(cast: Cast, held: dict, paid: dict, failed: dict, day: int) -> Script:
    """What supervision did (docs/design.md "Supervision with consequences"): a hold on a household
    reported as moved away, a recovery of an overpayment with a first repayment, a failed payment
    proposed for write-off (waiting for the supervisor's approval) and a published 问责 decision."""
    from subsidy.accountability import service as accountability
    from subsidy.filings import holds
    from subsidy.payments.models import Payment, PaymentStatus
    from subsidy.recoveries import service as recoveries

    yield at(day, 10, 0)
    entry = db.session.scalar(sa.select(Entry).where(Entry.filing_id == held["filing"].id).order_by(Entry.id))
    holds.hold_entry(cast.county, held["filing"].id, entry.id, "群众反映该户已全家迁出本村，正在核查")
    yield at(day - 1, 15, 0)
    p = db.session.scalar(sa.select(Payment).where(Payment.filing_id == paid["filing"].id,
                                                   Payment.status == PaymentStatus.paid).order_by(Payment.id))
    recovery = recoveries.create_recovery(cast.county, p.entry_id, min(p.amount, Decimal("210.00")),
                                          "核查发现多报耕地 2 亩，多发部分应予追回")
    yield at(day - 2, 9, 30)
    recoveries.add_repayment(cast.county, recovery.id, min(recovery.amount_due, Decimal("100.00")),
                             at(day - 2, 9, 30).astimezone(CHINA_TZ).date(), "XJ2026-001", "cash")
    f = db.session.scalar(sa.select(Payment).where(Payment.filing_id == failed["filing"].id,
                                                   Payment.status == PaymentStatus.failed).order_by(Payment.id))
    recoveries.propose_payment_write_off(cast.county, f.id, "户主已去世，一卡通已注销，无继承人账户")
    yield at(day - 3, 16, 0)
    accountability.record_decision(cast.supervisor, region_code=V0, person_name="李某", post="村会计",
                                   measure="criticism", document_no="彭纪〔2026〕3号",
                                   decided_on=at(day - 3, 16).astimezone(CHINA_TZ).date(),
                                   summary="为亲属多报耕地面积，已责令退回多领资金并作书面检查", publish=True)


# --- material subsidies -------------------------------------------------------------------

def material_script(cast: Cast, holder: dict, day: int) -> Script:
    """实物补贴 (docs/design.md "Material subsidies"): the village says where and when before the
    county's approval (so the approval SMS says it), the township receives the 地膜, the clerk
    records most households' pickups (one by a proxy), a farmer confirms one, a household that
    moved away has its goods proposed for write-off, and one household is still to collect."""
    from subsidy.materials import lists, receipts
    from subsidy.materials import service as goods
    from subsidy.materials.write_offs import propose_material_write_off

    yield at(day, 11, 0)
    filing = holder["filing"]
    village = filing.region_code
    clerk = cast.clerk_of(village)
    today = at(day, 11).astimezone(CHINA_TZ).date()
    from subsidy.demo import region_names

    name = region_names()[village]
    lists.set_list(clerk, filing.id, f"{name.removesuffix('村')}村委会院内", today + timedelta(days=14),
                   today + timedelta(days=day + 20))
    moment = at(day - 1, 9, 0)
    while filing.state != FilingState.county_approved:  # the approval's day depends on the calendar
        yield moment
        moment += timedelta(days=1)
    yield moment + timedelta(days=1)
    lines = [x for x in goods.lines_of(filing) if x["quantity_due"] > 0]
    total = sum((x["quantity_due"] for x in lines), Decimal("0"))
    received = moment.astimezone(CHINA_TZ).date()
    goods.record_receipt(cast.reviewer_of(village), filing.project_id, village[:9], total, received,
                         "固原市某某农资有限公司", f"RK{received:%Y%m%d}01")
    done = []
    picked = lines[:-2]  # the last household moved away; the one before it has yet to come
    for i, x in enumerate(picked):
        if i % 3 == 0:
            yield moment + timedelta(days=2 + i // 6, hours=i % 6)
        proxy = i == min(1, len(picked) - 1)
        pickup = goods.record_pickup(clerk, filing.id, x["entry_id"], x["quantity_due"],
                                     (moment + timedelta(days=2 + i // 6)).astimezone(CHINA_TZ).date(),
                                     "proxy" if proxy else "self", "王小红" if proxy else None,
                                     "儿媳" if proxy else None)
        done.append((x["household_id"], pickup.id))
    if done:
        household_id, pickup_id = done[0]
        receipts.confirm_pickup(household_id, pickup_id)
    if len(lines) >= 2:
        propose_material_write_off(cast.county, filing.id, lines[-1]["entry_id"], "户已迁出，本人书面放弃领取")


# --- cases -------------------------------------------------------------------------------

def _phone(household: Household | None) -> str:
    return (household.phone if household is not None and household.phone else "13909540001")


def case_script(cast: Cast, story: str, household: Household, received: int, *, village: str = V0,
                holder: dict | None = None) -> Script:
    """One farmer's case and what the township did with it (`story`)."""
    from subsidy.cases import escalation, service
    from subsidy.cases.models import FINDING_KINDS, CaseKind, Channel

    kind = {"complaint": CaseKind.complaint, "escalated": CaseKind.complaint}.get(story, CaseKind.inquiry)
    subjects = {
        CaseKind.inquiry: ("耕地地力保护补贴什么时候发放", "想问一下今年的耕地地力保护补贴什么时候能打到一卡通上。"),
        CaseKind.complaint: ("补贴面积与实际不符", "我家实际种地 12 亩，公示名单上只有 8 亩，请核实。"),
    }
    subject, body = subjects[kind]
    yield at(received, 10, 5)
    case = service.record_case(cast.clerk if village == V0 else cast.clerk_of(village), kind=kind.value,
                               channel=Channel.phone.value if story != "rejected" else Channel.visit.value,
                               subject=subject, body=body, contact_name=household.head_name,
                               contact_phone=_phone(household), region_code=village, household_id=household.id)
    if holder is not None:
        holder["case"] = case
    handler = cast.reviewer_of(village)
    if story in ("received", "overdue"):
        return
    yield at(received - 1, 9, 40)
    if story == "rejected":
        service.reject_case(handler, case.id, "重复来电，同一事项已在办理")
        return
    service.accept_case(handler, case.id, "已联系村里核实")
    if story == "escalated":
        yield at(received - 2, 16, 0)
        escalation.escalate_case(cast.supervisor, case.id, "群众反映强烈，请乡镇三日内核实答复")
        return
    if story in ("in_progress", "complaint"):
        return
    yield at(received - 2, 15, 30)
    service.reply_case(handler, case.id, "已与村里核实：今年的补贴在县级审定后一个月内发放到一卡通，届时短信告知。",
                       "partly_substantiated" if case.kind in FINDING_KINDS else None)
    if story == "replied":
        return
    yield at(received - 4, 11, 0)
    if story == "rated":
        service.rate_case(case.id, "very_satisfied", household_id=household.id)
    elif story == "return_call":  # rated on the county's 回访, not by the unit that replied
        service.record_rating(cast.county, case.id, "satisfied", "回访时农户表示满意")
    # "unrated": closed by the escalation job 7 days after the reply


def objection_script(cast: Cast, holder: dict, household_index: int, day: int) -> Script:
    """A farmer objects on the mobile page to an entry of a list still publicized."""
    from subsidy.cases import service
    from subsidy.cases.models import CaseKind
    from subsidy.filings.models import Entry

    yield at(day, 20, 15)
    filing = holder["filing"]
    entry = db.session.scalars(sa.select(Entry).where(Entry.filing_id == filing.id)
                               .order_by(Entry.id)).all()
    entry = entry[min(household_index, len(entry) - 1)]
    objector = db.session.get(Household, entry.household_id)
    service.submit_case(kind=CaseKind.objection.value, subject="名单中有已去世多年的户主",
                        body=f"公示名单中{objector.head_name}一户的户主前年已去世，家里已无人种地，不应享受补贴。",
                        contact_name="匿名", contact_phone="13909541234", region_code=filing.region_code,
                        entry_id=entry.id)


# --- SMS ---------------------------------------------------------------------------------

def settle_messages() -> dict[str, int]:
    """What the provider reported for the messages owed: most delivered, some only sent, a few
    undelivered or failed, one cancelled; the newest few still queued for the worker."""
    from subsidy.notify.models import Message
    from subsidy.notify.status import apply_status

    rows = db.session.execute(sa.select(Message.id, Message.created_at).order_by(Message.id)).all()
    keep_queued = {r.id for r in rows[-3:]}
    reports = itertools.cycle(["delivered"] * 12 + ["sent", "delivered", "undelivered", "delivered", "failed"])
    told = {"cancelled": 0}
    import time_machine

    for i, row in enumerate(rows):
        if row.id in keep_queued:
            continue
        report = "canceled" if i == 5 else next(reports)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        with time_machine.travel(created + timedelta(seconds=20 + i % 40), tick=False):
            sid = f"SMdemo{row.id:026d}"
            apply_status(row.id, sid, "sent")
            if report != "sent":
                apply_status(row.id, sid, report, "30003" if report in ("undelivered", "failed") else None)
        told[report] = told.get(report, 0) + 1
    return told


# --- the run -----------------------------------------------------------------------------

def run_scripts(scripts: list[Script]) -> int:
    """Run every script's steps in time order, each with the clock at its moment."""
    import time_machine

    heap: list[tuple[datetime, int, Script]] = []
    for n, script in enumerate(scripts):
        heapq.heappush(heap, (next(script), n, script))
    steps = 0
    while heap:
        moment, n, script = heapq.heappop(heap)
        with time_machine.travel(moment, tick=False):
            try:
                following = next(script)
            except StopIteration:
                following = None
            db.session.flush()
        steps += 1
        if following is not None:
            heapq.heappush(heap, (following, n, script))
    return steps


def load_scenario(year: int) -> dict[str, int]:
    """Once per database: nothing is done if the county already holds a filing."""
    try:
        import time_machine  # noqa: F401  (a development requirement, installed by make)
    except ImportError:
        return {"scenario steps": 0}
    if db.session.scalar(sa.select(sa.func.count()).select_from(Filing)):
        return {"scenario steps": 0}
    if year != local_today().year:
        return {"scenario steps": 0}
    # The story's farmers are the register's: a county loaded without households (as the
    # benchmarks load it, to fill the register themselves) gets the county and no story.
    if db.session.scalar(sa.select(sa.func.count()).select_from(Household)
                         .where(Household.region_code.in_([V0, f"{TOWNSHIP}202"]))) == 0:
        return {"scenario steps": 0}
    _TODAY[:] = [local_today()]
    cast = Cast()
    land, cows, houses, film = (_project(name, year) for name in ("耕地", "基础母牛", "农村危房", "地膜"))
    S = FilingState
    v = [f"{TOWNSHIP}{201 + i}" for i in range(10)]
    h_objection, h_paid_a, h_paid_b, h_pending, h_cancel, h_film = ({} for _ in range(6))
    scripts = [
        # the demo village: one filing for each thing its clerk does
        filing_script(cast, film, V0, S.draft, 3),  # to publicize
        filing_script(cast, land, V0, S.publicizing, 12),  # publicity over: to file
        filing_script(cast, cows, V0, S.draft, 16, heads=True, returned=True),  # returned, with a reason
        filing_script(cast, houses, V0, S.publicizing, 3, holder=h_objection),  # objected to
        # the township's queue
        filing_script(cast, land, v[1], S.village_filed, 11),
        filing_script(cast, land, v[2], S.village_filed, 10),
        # the county's queue, and payments
        filing_script(cast, land, v[3], S.township_approved, 13),
        filing_script(cast, land, v[4], S.county_approved, 35, holder=h_cancel),  # to put in a batch
        filing_script(cast, land, v[5], S.county_approved, 34, holder=h_paid_a),  # paid
        filing_script(cast, land, v[6], S.county_approved, 33, holder=h_paid_b),  # paid, two failed
        filing_script(cast, land, v[7], S.county_approved, 32, holder=h_pending),  # waiting for 回盘
        filing_script(cast, land, v[8], S.publicizing, 2),
        filing_script(cast, land, f"{OTHER_TOWNSHIP}201", S.township_approved, 14),
        filing_script(cast, land, f"{OTHER_TOWNSHIP}202", S.village_filed, 9),
        payment_script(cast, land, [h_paid_a, h_paid_b], h_pending, h_cancel, day=20),
        supervision_script(cast, h_cancel, h_paid_a, h_paid_b, day=8),
        objection_script(cast, h_objection, 4, day=1),
        # goods: from the township's store to the households' hands
        filing_script(cast, film, v[9], S.county_approved, 30, holder=h_film),
        material_script(cast, h_film, day=27),
    ]
    farmers = _households(V0, 12) + _households(v[1], 12)
    first: dict = {}
    stories = [("overdue", 12), ("received", 1), ("in_progress", 2), ("escalated", 9), ("replied", 4),
               ("rated", 15), ("return_call", 14), ("unrated", 20), ("rejected", 6), ("complaint", 5),
               ("received", 2)]
    for i, (story, day) in enumerate(stories):
        village = V0 if i % 2 == 0 else v[1]
        scripts.append(case_script(cast, story, farmers[i % len(farmers)], day, village=village,
                                   holder=first if story == "complaint" else None))
    # a second call about the same complaint, merged into the first
    scripts.append(_merged(cast, first, farmers[9 % len(farmers)], v[1], 3))
    # a complaint about the county's own staff, handled by the city
    from subsidy.demo.city import county_complaint_script

    scripts.append(county_complaint_script(cast.clerk, COUNTY, farmers[5], 7))
    steps = run_scripts(scripts)

    from subsidy.cases.escalation import run_escalation

    run_escalation()  # as the daily job would have: overdue cases 督办, unrated replies closed
    told = settle_messages()
    db.session.flush()
    return {"scenario steps": steps, "SMS reported": sum(told.values())}


def _merged(cast: Cast, first: dict, household: Household, village: str, day: int) -> Script:
    from subsidy.cases import service
    from subsidy.cases.models import CaseKind, Channel

    yield at(day, 14, 0)
    duplicate = service.record_case(cast.clerk_of(village), kind=CaseKind.complaint.value,
                                    channel=Channel.phone.value, subject="补贴面积与实际不符（再次来电）",
                                    body="上周反映的面积问题还没有答复。", contact_name=household.head_name,
                                    contact_phone=_phone(household), region_code=village,
                                    household_id=household.id)
    yield at(day, 15, 0)
    service.merge_case(cast.reviewer_of(village), duplicate.id, first["case"].ref_no, "同一农户同一事项，合并办理")

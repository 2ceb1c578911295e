"""A few weeks of work in the demo city's four smaller counties, so that the city's dashboard
compares five counties that differ (README "Demo logins").

彭阳县 has the whole story (subsidy.demo.scenario); each other county gets a shorter one of its
own: two projects, lists in every state of the review (one returned by the township, one by
the county), a payment batch settled by the bank's 回盘 with farmers confirming receipt and a
receipt sample drawn, cases open, overdue and closed (on time or late, rated well or badly),
SMS reported, and some farmers signed in on the mobile pages. The counties are written to
differ: 原州区 works fast and is liked, 西吉县 lets cases run over, 隆德县 and 泾源县 lie between,
so completion, on-time and satisfaction rates, money paid and coverage differ row by row.

Everything goes through the services at its moment, with the scenario's helpers
(`filing_script`, `run_scripts`, its `Cast`). A county that already holds a filing is left
as it is, so a reload adds nothing, and a database loaded before these stories gets them."""
from __future__ import annotations

import itertools
import random
from datetime import UTC, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from subsidy.accounts.models import Role, User
from subsidy.common.timeutil import local_today
from subsidy.demo import DEMO_PASSWORD, OTHER_COUNTIES, PROJECTS, scenario
from subsidy.demo.scenario import Cast, Script, _act, _households, _phone, _result_file, at, filing_script
from subsidy.extensions import db
from subsidy.filings.models import Filing, FilingState
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.scope import within

S = FilingState
PAID = "paid"  # a county-approved list that goes into the county's payment batch
RETURNED = "returned"  # returned by the township, back to the village's draft with a reason
COUNTY_RETURNED = "county_returned"  # approved by the township, returned by the county to it
COUNTY_RETURN_REASON = "第 2 户耕地面积与确权登记面积不符，请乡镇复核后重新上报"

# The smaller budgets of a smaller county, by project name.
BUDGETS = {"耕地地力保护补贴": "3000000.00", "基础母牛养殖补贴": "800000.00", "农村危房改造补助": "1200000.00"}


def _filing(project: str, village: int, target: FilingState, start: int, how: str = "") -> tuple:
    """(project, index of the village among the county's six, state reached, days ago started, how)."""
    return project, village, target, start, how


def _case(kind: str, village: int, received: int, outcome: str, reply_after: int = 0, rating: str = "") -> tuple:
    """(kind, village index, days ago received, what became of it, days to the reply, rating).
    outcome: open (just received), in_progress, overdue (nobody took it up), escalated (督办 by the
    supervisor), rated (replied, then rated by the farmer: 不满意 reopens it), unrated (replied,
    closed unrated after 7 days). A reply later than the limit (3 working days for an inquiry,
    15 for a complaint) is completed late."""
    return kind, village, received, outcome, reply_after, rating


L = "耕地地力保护补贴"
COWS = "基础母牛养殖补贴"
HOUSES = "农村危房改造补助"
# Per county: its second project, its lists, the payments the bank fails, the farmers who
# confirm receipt, the share of households signed in on the mobile pages, its cases.
STORIES = {
    "640402": dict(  # 原州区: the city's district, quick and liked (one inquiry forgotten)
        second=COWS, failed=0, confirmed=4, signed_in=0.45,
        filings=[_filing(L, 0, S.county_approved, 38, PAID), _filing(L, 1, S.county_approved, 36, PAID),
                 _filing(L, 2, S.county_approved, 24), _filing(L, 4, S.township_approved, 13),
                 _filing(COWS, 3, S.publicizing, 4)],
        cases=[_case("inquiry", 0, 20, "rated", 1, "very_satisfied"), _case("inquiry", 1, 18, "rated", 2, "satisfied"),
               _case("inquiry", 3, 15, "rated", 1, "very_satisfied"), _case("inquiry", 4, 25, "unrated", 2),
               _case("inquiry", 0, 1, "open"), _case("inquiry", 5, 8, "overdue"),
               _case("complaint", 3, 30, "rated", 5, "satisfied"),
               _case("complaint", 2, 22, "rated", 3, "very_satisfied"), _case("complaint", 1, 3, "in_progress")]),
    "640422": dict(  # 西吉县: slow; cases run over and farmers say so; an account the bank refused
        second=HOUSES, failed=1, confirmed=1, signed_in=0.12,
        filings=[_filing(L, 2, S.county_approved, 38, PAID), _filing(L, 0, S.county_approved, 36, PAID),
                 _filing(L, 1, S.township_approved, 15), _filing(L, 3, S.publicizing, 12),
                 _filing(L, 4, S.draft, 17, RETURNED), _filing(HOUSES, 0, S.draft, 5)],
        cases=[_case("inquiry", 0, 14, "overdue"), _case("inquiry", 3, 16, "overdue"),
               _case("inquiry", 1, 24, "rated", 12, "dissatisfied"), _case("inquiry", 4, 16, "rated", 2, "satisfied"),
               _case("inquiry", 0, 1, "open"), _case("inquiry", 2, 30, "unrated", 12),
               _case("complaint", 3, 40, "escalated"), _case("complaint", 1, 45, "rated", 28, "basically_satisfied"),
               _case("complaint", 4, 2, "open")]),
    "640423": dict(  # 隆德县: between the two
        second=COWS, failed=0, confirmed=2, signed_in=0.30,
        filings=[_filing(L, 0, S.county_approved, 39, PAID), _filing(L, 1, S.county_approved, 35, PAID),
                 _filing(L, 3, S.draft, 16, RETURNED), _filing(L, 5, S.village_filed, 11),
                 _filing(COWS, 3, S.publicizing, 3)],
        cases=[_case("inquiry", 0, 20, "rated", 2, "very_satisfied"), _case("inquiry", 1, 26, "rated", 12, "satisfied"),
               _case("inquiry", 3, 19, "unrated", 9), _case("inquiry", 4, 13, "overdue"),
               _case("inquiry", 2, 2, "in_progress"), _case("complaint", 3, 28, "rated", 10, "satisfied"),
               _case("complaint", 0, 4, "open")]),
    "640424": dict(  # 泾源县: the smallest; the county sent a list back
        second=HOUSES, failed=0, confirmed=1, signed_in=0.25,
        filings=[_filing(L, 0, S.county_approved, 37, PAID), _filing(L, 2, S.village_filed, 22, COUNTY_RETURNED),
                 _filing(L, 5, S.township_approved, 16), _filing(HOUSES, 1, S.publicizing, 4),
                 _filing(L, 4, S.draft, 3)],
        cases=[_case("inquiry", 0, 12, "rated", 1, "satisfied"), _case("inquiry", 3, 17, "rated", 2, "dissatisfied"),
               _case("inquiry", 1, 22, "rated", 12, "satisfied"), _case("inquiry", 5, 20, "unrated", 2),
               _case("inquiry", 4, 9, "overdue"), _case("inquiry", 2, 3, "open"), _case("inquiry", 0, 1, "open"),
               _case("complaint", 3, 33, "unrated", 6)]),
}


class CountyCast(Cast):
    """A small county's people: its demo users, a reviewer for its second township and a
    clerk for each village that files (as the scenario's Cast makes them)."""

    def __init__(self, county: str, townships: list[tuple[str, str]], password_hash: str):
        users = {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(
            [f"{role}{county}" for role in ("village", "township", "county", "supervisor")])))}
        self.clerk = users[f"village{county}"]
        self.township = users[f"township{county}"]
        self.county = users[f"county{county}"]
        self.supervisor = users[f"supervisor{county}"]
        self._hash = password_hash
        code, name = townships[1]
        self.other_township = self._user(f"t{code}", f"{name}审核员", Role.township_reviewer, code)
        self._first = townships[0][0]

    def reviewer_of(self, village: str) -> User:
        return self.township if village.startswith(self._first) else self.other_township


def _projects(cast: CountyCast, second: str, year: int) -> dict[str, Project]:
    """The county's two projects, created by its admin (the service audits them)."""
    from subsidy.projects import service

    admin = db.session.scalar(sa.select(User).where(User.username == f"admin{cast.county.region_code}"))
    out = {}
    for name, category, unit, rate, _budget, source in PROJECTS:
        if name not in (L, second):
            continue
        project = db.session.scalar(sa.select(Project).where(
            Project.county_code == admin.region_code, Project.year == year, Project.name == name))
        out[name] = project or service.create_project(
            admin, name=name, year=year, category=category.value, unit=unit.value, rate=rate,
            budget=BUDGETS[name], publicity_days=7, fund_source=source)
    return out


def _county_returned(cast: CountyCast, project: Project, village: str, start: int) -> Script:
    """Approved by the township, then sent back to it by the county with a reason."""
    holder: dict = {}
    yield from filing_script(cast, project, village, S.township_approved, start, holder=holder)
    filing = holder["filing"]
    yield filing.state_changed_at + timedelta(days=2, hours=3)
    _act(cast.county, filing, "return", reason=COUNTY_RETURN_REASON, to="township")


def _payments(cast: CountyCast, project: Project, paid: list[dict], failed: int, confirmed: int, day: int) -> Script:
    """The county reviewer pays the approved lists in one batch; the bank's 回盘 comes two days
    later (`failed` payments refused); farmers confirm receipt on the mobile page, and the
    county draws a receipt sample (each sampled farmer gets an SMS)."""
    from subsidy.payments import files, receipts, results, service
    from subsidy.payments.models import Payment, PaymentStatus
    from subsidy.public.signin import record_sign_in

    yield at(day, 15, 0)
    batch = service.create_batch(cast.county, project.id, [h["filing"].id for h in paid], note="第一批").batch
    files.export_batch(cast.county, batch.id, "csv")
    yield at(day - 2, 11, 0)
    payments = list(db.session.scalars(sa.select(Payment).where(Payment.batch_id == batch.id).order_by(Payment.seq)))
    failing = {p.id for p in payments[len(payments) - failed:]} if failed else set()
    results.import_results(cast.county, batch.id, _result_file(payments, failing), "回盘.csv")
    yield at(day - 3, 20, 30)
    done = db.session.scalars(sa.select(Payment).where(
        Payment.batch_id == batch.id, Payment.status == PaymentStatus.paid).order_by(Payment.seq)).all()
    for p in done[:confirmed]:
        record_sign_in(p.household_id)
        receipts.confirm_receipt(p.household_id, p.id)
    yield at(day - 5, 10, 0)
    receipts.draw_sample(cast.county, project.id, min(3, len(done)), seed=int(cast.county.region_code))


def _case_script(cast: CountyCast, spec: tuple, household: Household, village: str) -> Script:
    from subsidy.cases import escalation, service
    from subsidy.cases.models import FINDING_KINDS, CaseKind, Channel

    kind, _, received, outcome, reply_after, rating = spec
    subject, body = {
        "inquiry": ("基础母牛补贴怎么申报", "家里新添了两头能繁母牛，想问今年的补贴怎么申报、什么时候核实。"),
        "complaint": ("公示名单漏报", "我家今年在册的耕地没有列进公示名单，村里说是系统问题，请核实。"),
    }[kind]
    yield at(received, 9, 45)
    case = service.record_case(cast.clerk_of(village), kind=CaseKind(kind).value, channel=Channel.phone.value,
                               subject=subject, body=body, contact_name=household.head_name,
                               contact_phone=_phone(household), region_code=village, household_id=household.id)
    handler = cast.reviewer_of(village)
    if outcome in ("open", "overdue"):
        return
    yield at(received, 15, 0)
    service.accept_case(handler, case.id, "已安排村里核实")
    if outcome == "escalated":
        yield at(received - 20, 10, 0)
        escalation.escalate_case(cast.supervisor, case.id, "久拖未办，请乡镇五日内核实答复")
        return
    if outcome == "in_progress":
        return
    yield at(received - reply_after, 16, 30)
    service.reply_case(handler, case.id, "已入户核实并答复：按程序补报，下一批公示时列入。",
                       "substantiated" if case.kind in FINDING_KINDS else None)
    if outcome == "rated":
        yield at(received - reply_after - 1, 20, 0)
        reason = None if rating in ("very_satisfied", "satisfied", "basically_satisfied") else "答复太慢，问题拖了很久"
        service.rate_case(case.id, rating, reason, household_id=household.id)


def _sign_ins(county: str, share: float, counter: dict) -> Script:
    """Farmers who opened the mobile pages (手机端覆盖率): a seeded share of the county's
    households, each on an evening of the last four weeks."""
    from subsidy.public.signin import record_sign_in

    rng = random.Random(int(county) + 1)
    ids = db.session.scalars(sa.select(Household.id).where(within(Household.region_code, county))
                             .order_by(Household.id)).all()
    chosen = sorted((at(rng.randrange(2, 30), 19, rng.randrange(60)), i) for i in ids if rng.random() < share)
    yield at(30, 19)  # a script yields at least once (run_scripts starts it)
    for moment, household_id in chosen:
        yield moment
        record_sign_in(household_id)
        counter["mobile sign-ins"] = counter.get("mobile sign-ins", 0) + 1


def _settle(county: str, pattern: list[str]) -> int:
    """The provider's reports for the county's messages still queued, in the county's own mix."""
    import time_machine

    from subsidy.notify.models import Message, MessageStatus
    from subsidy.notify.status import apply_status

    rows = db.session.execute(sa.select(Message.id, Message.created_at).where(
        within(Message.region_code, county), Message.status == MessageStatus.queued).order_by(Message.id)).all()
    reports = itertools.cycle(pattern)
    # One report each (a final report adopts the sid and the time sent), under one clock per
    # moment the messages were queued (an approval queues a whole list at once).
    for created, group in itertools.groupby(rows, key=lambda r: r.created_at):
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        with time_machine.travel(created + timedelta(seconds=40), tick=False):
            for row in group:
                report = next(reports)
                apply_status(row.id, f"SMdemo{row.id:026d}", report,
                             "30003" if report in ("undelivered", "failed") else None)
    return len(rows)


# The provider's reports per county, in turn: 西吉县's mountain villages lose more messages.
SMS_REPORTS = {
    "640402": ["delivered"] * 9 + ["sent"],
    "640422": ["delivered"] * 4 + ["undelivered", "delivered", "failed"],
    "640423": ["delivered"] * 6 + ["undelivered"],
    "640424": ["delivered"] * 5 + ["sent", "failed"],
}


def _scripts(county: str, townships: list[tuple[str, str]], year: int, password_hash: str,
             counter: dict) -> list[Script]:
    story = STORIES[county]
    cast = CountyCast(county, townships, password_hash)
    projects = _projects(cast, story["second"], year)
    villages = [f"{code}{201 + v}" for code, _ in townships for v in range(3)]
    scripts, paid = [], []
    for project, v, target, start, how in story["filings"]:
        if how == COUNTY_RETURNED:
            scripts.append(_county_returned(cast, projects[project], villages[v], start))
            continue
        holder: dict = {}
        scripts.append(filing_script(cast, projects[project], villages[v], target, start,
                                     returned=how == RETURNED, holder=holder))
        if how == PAID:
            paid.append(holder)
    scripts.append(_payments(cast, projects[L], paid, story["failed"], story["confirmed"], day=20))
    farmers = {v: _households(v, 4) for v in villages}
    for n, spec in enumerate(story["cases"]):
        village = villages[spec[1]]
        scripts.append(_case_script(cast, spec, farmers[village][n % len(farmers[village])], village))
    scripts.append(_sign_ins(county, story["signed_in"], counter))
    return scripts


def load_counties(year: int) -> dict[str, int]:
    """The four counties' stories, each once: a county that holds a filing is left alone, and
    (as for 彭阳县) there is no story without households or for another year than this one."""
    try:
        import time_machine  # noqa: F401  (a development requirement, installed by make)
    except ImportError:
        return {"county stories": 0}
    if year != local_today().year:
        return {"county stories": 0}
    todo = []
    for county, _name, _old, townships in OTHER_COUNTIES:
        if db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(within(Filing.region_code, county))):
            continue
        first_villages = [f"{code}{201 + v}" for code, _ in townships for v in range(3)]
        if db.session.scalar(sa.select(sa.func.count()).select_from(Household)
                             .where(Household.region_code.in_(first_villages))) < len(first_villages):
            continue  # a village without households could not file: no story rather than half of one
        todo.append((county, townships))
    if not todo:
        return {"county stories": 0}
    scenario._TODAY[:] = [local_today()]
    password_hash = generate_password_hash(DEMO_PASSWORD)
    counter: dict = {}
    scripts = [s for county, townships in todo for s in _scripts(county, townships, year, password_hash, counter)]
    steps = scenario.run_scripts(scripts)

    from subsidy.cases.escalation import run_escalation

    run_escalation()  # the daily job: overdue cases 督办, replies unrated for 7 days closed
    reported = sum(_settle(county, SMS_REPORTS[county]) for county, _ in todo)
    db.session.flush()
    return {"county stories": len(todo), "county steps": steps, "county SMS reported": reported,
            **counter}

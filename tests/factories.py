"""Factories for every model (factory-boy, bound to the Flask-SQLAlchemy session)."""
from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from decimal import Decimal

import factory
from werkzeug.security import generate_password_hash

from subsidy.accounts.models import Role, User
from subsidy.demo import make_id_number, make_phone
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Category, Project, Unit
from subsidy.regions.models import Level, Region

_seq = itertools.count(1)
# Fast hashing for test users only; production uses werkzeug's default (scrypt).
_PASSWORD_HASH = None

DEFAULT_REGION = {
    "village_clerk": "640425100201",
    "township_reviewer": "640425100",
    "county_reviewer": "640425",
    "county_admin": "640425",
    "supervisor": "640425",
    "city_admin": "6404",
    "city_supervisor": "6404",
}


def password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        from tests.conftest import PASSWORD

        _PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    return _PASSWORD_HASH


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class RegionFactory(Base):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"区划{n}")


def _ensure_region(code: str, name: str, level: Level, parent_code: str | None = None, **kw) -> Region:
    region = db.session.get(Region, code)
    if region is None:
        region = RegionFactory(code=code, name=name, level=level, parent_code=parent_code, **kw)
    return region


def make_county() -> Region:
    """640425 with townships 640425100 and 640425101, each with villages 201 and 202. The province
    64 and the prefecture 6404 exist too (a user of every role needs its region), but 640425's
    parent stays empty, as a county's is right after migration 0022: scope never reads
    parent_code. `make_city` attaches it."""
    _ensure_region("64", "宁夏回族自治区", Level.province)
    _ensure_region("6404", "固原市", Level.prefecture, "64", sms_signature="【固原市惠农】")
    county = RegionFactory(code="640425", name="彭阳县", level=Level.county, sms_signature="【彭阳县惠农】")
    for t, tname in (("640425100", "白阳镇"), ("640425101", "王洼镇")):
        RegionFactory(code=t, name=tname, level=Level.township, parent_code="640425", phone="0954-7011111")
        for v in ("201", "202"):
            RegionFactory(code=t + v, name=f"{tname}{v}村", level=Level.village, parent_code=t)
    db.session.commit()
    return county


CITY_COUNTIES = (("640402", "原州区"), ("640422", "西吉县"), ("640423", "隆德县"), ("640424", "泾源县"))


def make_city() -> Region:
    """固原市 6404 with its five counties (640425 as make_county builds it, now attached; the
    others with one township 100 and one village 100201 each), and another city 6405 with one
    county 640502 (township, village alike), for scope tests across counties and cities."""
    if db.session.get(Region, "640425") is None:
        make_county()
    city = db.session.get(Region, "6404")
    db.session.get(Region, "640425").parent_code = "6404"
    for code, name in CITY_COUNTIES:
        _ensure_region(code, name, Level.county, "6404")
        _ensure_region(code + "100", f"{name}城关镇", Level.township, code)
        _ensure_region(code + "100201", f"{name}一村", Level.village, code + "100")
    _ensure_region("6405", "中卫市", Level.prefecture, "64")
    _ensure_region("640502", "中宁县", Level.county, "6405")
    _ensure_region("640502100", "宁安镇", Level.township, "640502")
    _ensure_region("640502100201", "宁安一村", Level.village, "640502100")
    db.session.commit()
    return city


class UserFactory(Base):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"用户{n}")
    password_hash = factory.LazyFunction(password_hash)
    role = Role.village_clerk
    region_code = "640425100201"


def make_user(role: str, region_code: str | None = None) -> User:
    user = UserFactory(role=Role(role), region_code=region_code or DEFAULT_REGION[role])
    db.session.commit()
    return user


def valid_id_number(seq: int | None = None) -> str:
    n = next(_seq) if seq is None else seq
    birth = date(1960, 1, 1) + timedelta(days=(n * 37) % 15000)
    return make_id_number(None, birth, n % 500, female=bool(n % 2))


class HouseholdFactory(Base):
    class Meta:
        model = Household

    region_code = "640425100201"
    head_name = factory.Sequence(lambda n: f"农户{n}")
    id_number = factory.LazyFunction(valid_id_number)
    phone = factory.LazyFunction(lambda: make_phone(random.Random(next(_seq))))
    payout_account = factory.Sequence(lambda n: f"6231{n:015d}")
    members = 4
    land_area_mu = Decimal("12.50")


class ProjectFactory(Base):
    class Meta:
        model = Project

    county_code = "640425"
    name = factory.Sequence(lambda n: f"补贴项目{n}")
    year = 2017
    category = Category.cash
    unit = Unit.mu
    rate = Decimal("105.00")
    budget = Decimal("1000000.00")
    publicity_days = 7
    fund_source = "中央财政"


def make_xlsx(headers, rows, *, sheet_title: str = "Sheet1"):
    """A real .xlsx file in memory (openpyxl): `headers` as row 1, then `rows`. A row that is
    None stays blank, so row numbers in a test match the spreadsheet."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet_title
    if headers is not None:
        ws.append(list(headers))
    for number, row in enumerate(rows, start=ws.max_row + 1 if headers is not None else 1):
        for col, value in enumerate(row or (), start=1):
            ws.cell(row=number, column=col, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


# --- filings (issue 4) ---------------------------------------------------------------------

from subsidy.filings.models import Filing, WatchCategory, WatchListEntry  # noqa: E402


class WatchListFactory(Base):
    class Meta:
        model = WatchListEntry

    county_code = "640425"
    id_number = factory.LazyFunction(valid_id_number)
    name = factory.Sequence(lambda n: f"比对{n}")
    category = WatchCategory.deceased
    source = "民政局"


class FilingFactory(Base):
    """A draft filing; entries go in through `subsidy.filings.entries`, where the rules live."""

    class Meta:
        model = Filing

    project_id = factory.LazyFunction(lambda: ProjectFactory().id)
    region_code = "640425100201"


# --- SMS (issue 3) -------------------------------------------------------------------------

from subsidy.notify.models import Message, MessageStatus, OptOut  # noqa: E402


class MessageFactory(Base):
    """An outbox row as `subsidy.notify.outbox.enqueue` writes it (tests of the worker and pages
    that need a message in a given state; real code always goes through `enqueue`)."""

    class Meta:
        model = Message

    key = factory.Sequence(lambda n: f"test:message:{n}")
    template = "test"
    body = "【彭阳县惠农】测试短信"
    segments = 1
    to_phone = factory.LazyFunction(lambda: make_phone(random.Random(next(_seq))))
    region_code = "640425100201"
    status = MessageStatus.queued
    attempts = 0
    provider_calls = 0


class OptOutFactory(Base):
    class Meta:
        model = OptOut

    phone = factory.LazyFunction(lambda: make_phone(random.Random(next(_seq))))
    source = "staff"
    note = ""


# --- Policies (issue 6) --------------------------------------------------------------------

from subsidy.policies.models import Policy, PolicyCategory, PolicyStatus  # noqa: E402


class PolicyFactory(Base):
    """A policy of county 640425. For a published one pass status=PolicyStatus.published and
    published_at (real code publishes through subsidy.policies.service.publish_policy)."""

    class Meta:
        model = Policy

    county_code = "640425"
    region_code = "640425"
    title = factory.Sequence(lambda n: f"惠民政策{n}")
    body = "# 政策原文\n\n按实际种植面积补贴。"
    interpretation = "每亩补贴 105 元，打到一卡通。"
    category = PolicyCategory.planting
    status = PolicyStatus.draft


def approved_filing(village_code: str = "640425100201", project: Project | None = None,
                    state: str = "county_approved"):
    """A filing of every household of the village, walked through the filing service
    (subsidy.filings) to `state`: publicizing, village_filed, township_approved or
    county_approved. Returns the filing; commits."""
    from datetime import timedelta

    import time_machine

    from subsidy.common.timeutil import utcnow
    from subsidy.filings import entries as filing_entries
    from subsidy.filings import service as filing_service
    from subsidy.filings import workflow

    project = project or ProjectFactory()
    db.session.flush()
    clerk = make_user("village_clerk", village_code)
    township = make_user("township_reviewer", village_code[:9])
    county_reviewer = make_user("county_reviewer", village_code[:6])
    filing = filing_service.start_filing(clerk, project.id)
    filing_entries.add_all_households(clerk, filing.id)
    filing = workflow.perform(clerk, filing.id, "publicize", version=filing.version)
    db.session.commit()
    steps = [(clerk, "submit", "village_filed"), (township, "approve", "township_approved"),
             (county_reviewer, "approve", "county_approved")]
    if state != "publicizing":
        with time_machine.travel(utcnow() + timedelta(days=project.publicity_days, hours=1), tick=False):
            for actor, action, reached in steps:
                db.session.refresh(filing)
                filing = workflow.perform(actor, filing.id, action, version=filing.version)
                if reached == state:
                    break
        db.session.commit()
    db.session.refresh(filing)
    return filing


# --- cases (issue 5) -----------------------------------------------------------------------

from datetime import UTC, datetime  # noqa: E402

from subsidy.cases.models import Case, CaseKind, CaseState, Channel  # noqa: E402


class CaseFactory(Base):
    """An inquiry received Monday 4 March 2024 09:00 China time about village 640425100201,
    handled by its township, due Thursday 7 March 23:59:59 (3 working days). Real code receives
    cases through `subsidy.cases.service`; tests of lists and statistics may use this, or
    `tests.cases_support.bulk_cases` for thousands."""

    class Meta:
        model = Case

    ref_no = factory.Sequence(lambda n: f"ZX-2024-{900000 + n:06d}")
    kind = CaseKind.inquiry
    channel = Channel.phone
    state = CaseState.received
    region_code = "640425100201"
    assigned_region_code = "640425100"
    contact_name = "马大爷"
    contact_phone = "13909541234"
    subject = factory.Sequence(lambda n: f"咨询{n}")
    body = "想问一下补贴什么时候发放。"
    received_at = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)
    clock_from = factory.SelfAttribute("received_at")
    due_days = 3
    due_at = datetime(2024, 3, 7, 15, 59, 59, tzinfo=UTC)

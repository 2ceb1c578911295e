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


def make_county() -> Region:
    """640425 with townships 640425100 and 640425101, each with villages 201 and 202."""
    county = RegionFactory(code="640425", name="彭阳县", level=Level.county, sms_signature="【彭阳县惠农】")
    for t, tname in (("640425100", "白阳镇"), ("640425101", "王洼镇")):
        RegionFactory(code=t, name=tname, level=Level.township, parent_code="640425", phone="0954-7011111")
        for v in ("201", "202"):
            RegionFactory(code=t + v, name=f"{tname}{v}村", level=Level.village, parent_code=t)
    db.session.commit()
    return county


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

"""The demo city's subsidy catalogue (docs/design.md "Subsidy catalogue"): the types the city
admin keeps, every project of the city named after one of them tagged with it, and a project of
the same type and year in 原州区, so that the two counties can be compared (and checked for one
account paid in both, subsidy.filings.risk). Written through the services as the demo's users
(audited), and idempotent: what exists is kept."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.catalogue import service as catalogue
from subsidy.catalogue.models import SubsidyType
from subsidy.demo import CITY, PROJECTS
from subsidy.extensions import db
from subsidy.projects.models import Project, Unit
from subsidy.regions.models import Region
from subsidy.regions.scope import within

# code, name, unit; and the demo projects' names that are an instance of each
TYPES = [
    ("gengdi_baohu", "耕地地力保护补贴", Unit.mu, ("耕地地力保护补贴",)),
    ("jichu_muniu", "基础母牛养殖补贴", Unit.head, ("基础母牛养殖补贴",)),
    ("weifang_gaizao", "农村危房改造补助", Unit.household, ("农村危房改造补助",)),
    ("dimo_fugai", "地膜覆盖补贴", Unit.mu, ("地膜覆盖补贴（实物）",)),
    ("nongji_gouzhi", "农机购置补贴", Unit.item, ()),
]
OTHER_COUNTY = "640402"  # 原州区: the same 耕地地力保护补贴 as 彭阳县, the same year
LAND = "耕地地力保护补贴"


def _user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _types() -> int:
    admin = _user("cityadmin")
    if admin is None or db.session.get(Region, CITY[0]) is None:
        return 0
    have = set(db.session.scalars(sa.select(SubsidyType.code).where(SubsidyType.prefecture_code == CITY[0])))
    created = 0
    for code, name, unit, _projects in TYPES:
        if code not in have:
            catalogue.create_type(admin, code=code, name=name, unit=unit.value)
            created += 1
    return created


def _tag() -> int:
    """Every project of the city named as a type's projects, with no type yet, gets it."""
    ids = dict(db.session.execute(sa.select(SubsidyType.code, SubsidyType.id)
                                  .where(SubsidyType.prefecture_code == CITY[0])).all())
    tagged = 0
    for code, _name, _unit, names in TYPES:
        if code in ids and names:
            tagged += db.session.execute(
                sa.update(Project).where(within(Project.county_code, CITY[0]), Project.name.in_(names),
                                         Project.subsidy_type_id.is_(None))
                .values(subsidy_type_id=ids[code])).rowcount
    return tagged


def _other_county_project(year: int) -> int:
    """原州区's 耕地地力保护补贴 of the year, made by its admin through the projects service."""
    from subsidy.projects import service as projects

    admin = _user(f"admin{OTHER_COUNTY}")
    has_type = db.session.scalar(sa.select(SubsidyType.id).where(SubsidyType.prefecture_code == CITY[0],
                                                                SubsidyType.code == "gengdi_baohu"))
    if admin is None or has_type is None or db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(
            Project.county_code == OTHER_COUNTY, Project.year == year, Project.name == LAND)):
        return 0
    _name, category, unit, rate, _budget, source = next(p for p in PROJECTS if p[0] == LAND)
    projects.create_project(admin, name=LAND, year=year, category=category.value, unit=unit.value, rate=rate,
                            budget="3000000.00", publicity_days=7, fund_source=source, subsidy_type="gengdi_baohu")
    return 1


def load_catalogue(year: int) -> dict[str, int]:
    counts = {"subsidy types": _types(), "other county projects": _other_county_project(year)}
    counts["projects tagged"] = _tag()
    db.session.flush()
    return counts

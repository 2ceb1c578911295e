"""The demo city's subsidy catalogue (docs/design.md "Subsidy catalogue"): the types the city
admin keeps, every project of the city named after one of them tagged with it, and a project of
the same type and year in 原州区, so that the two counties can be compared; and one payout
account planted in both counties' lists of that type and year, so that the cross-county flag
(subsidy.filings.risk) shows on both from the first sign-in. Written through the services as
the demo's users (audited), and idempotent: what exists is kept.

Runs after every story (彭阳县's and the smaller counties'): the planted list is 原州区's only one
in its village, made here, and a county's story is skipped where a filing already exists."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from subsidy.accounts.models import Role, User
from subsidy.catalogue import service as catalogue
from subsidy.catalogue.models import SubsidyType
from subsidy.demo import CITY, DEMO_PASSWORD, PROJECTS, region_names
from subsidy.extensions import db
from subsidy.filings import entries, risk, workflow
from subsidy.filings import service as filings
from subsidy.filings.models import Entry, EntryFlag, Filing, FilingState, FlagCode
from subsidy.households import service as households
from subsidy.households.models import Household
from subsidy.projects import service as projects
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
# 原州区's village whose list carries the planted account (no county story files there)
PLANTED_VILLAGE = "640402101203"
UNDER_REVIEW = (FilingState.publicizing, FilingState.village_filed, FilingState.township_approved)
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


def _clerk(village: str) -> User:
    """The village's clerk, named as the scenario names the clerks it adds (c + village code)."""
    user = _user(f"c{village}")
    if user is None:
        user = User(username=f"c{village}", name=region_names()[village] + "经办员", role=Role.village_clerk,
                    region_code=village, password_hash=generate_password_hash(DEMO_PASSWORD),
                    phone="1390954" + village[-4:])
        db.session.add(user)
        db.session.flush()
    return user


def _land_filing(county: str, year: int, states) -> Filing | None:
    return db.session.scalar(
        sa.select(Filing).join(Project, Project.id == Filing.project_id)
        .join(SubsidyType, SubsidyType.id == Project.subsidy_type_id)
        .where(within(Filing.region_code, county), Project.year == year, SubsidyType.code == "gengdi_baohu",
               SubsidyType.prefecture_code == CITY[0], Filing.state.in_(states))
        .order_by(Filing.id))


def _plant_shared_account(year: int) -> int:
    """A 原州区 household given the account of a household on a 彭阳县 list under review (its
    own list is left as publicized), listed by 原州区 and publicized: the publicity's check flags
    it, and the mirror flags the 彭阳县 entry."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(EntryFlag)
                         .where(EntryFlag.code == FlagCode.shared_account_other_county)):
        return 0
    theirs = _land_filing("640425", year, UNDER_REVIEW)
    project = db.session.scalar(sa.select(Project).join(SubsidyType, SubsidyType.id == Project.subsidy_type_id)
                                .where(Project.county_code == OTHER_COUNTY, Project.year == year,
                                       SubsidyType.code == "gengdi_baohu"))
    farmer = db.session.scalar(sa.select(Household).where(Household.region_code == PLANTED_VILLAGE)
                               .order_by(Household.id))
    admin = _user(f"admin{OTHER_COUNTY}")
    if None in (theirs, project, farmer, admin) or db.session.get(Region, PLANTED_VILLAGE) is None:
        return 0
    account = db.session.scalar(sa.select(Household.payout_account).join(Entry, Entry.household_id == Household.id)
                                .where(Entry.filing_id == theirs.id, Household.payout_account.is_not(None))
                                .order_by(Entry.id))
    if account is None or db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(
            Filing.project_id == project.id, Filing.region_code == PLANTED_VILLAGE)):
        return 0
    households.update_household(admin, farmer.id, payout_account=account)
    clerk = _clerk(PLANTED_VILLAGE)
    mine = filings.start_filing(clerk, project.id)
    entries.add_entry(clerk, mine.id, farmer.id)
    workflow.perform(clerk, mine.id, "publicize", version=mine.version)
    risk.run_checks(theirs)
    return 1


def load_catalogue(year: int) -> dict[str, int]:
    counts = {"subsidy types": _types(), "other county projects": _other_county_project(year)}
    counts["projects tagged"] = _tag()
    counts["cross-county accounts planted"] = _plant_shared_account(year)
    db.session.flush()
    return counts

"""The demo city's catalogue (subsidy.demo.catalogue): the city's types, 彭阳县's projects
tagged, the same type and year in 原州区."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.projects.models import Project


@pytest.fixture
def loaded(app):
    from subsidy.demo import load_demo

    load_demo(households_per_village=3)
    db.session.commit()


def test_the_demo_city_has_a_catalogue_and_its_projects_name_their_types(loaded):
    from subsidy.catalogue.models import SubsidyType
    from subsidy.demo import load_demo

    types = dict(db.session.execute(sa.select(SubsidyType.name, SubsidyType.prefecture_code)).all())
    assert {"耕地地力保护补贴", "基础母牛养殖补贴", "农村危房改造补助", "地膜覆盖补贴"} <= set(types)
    assert set(types.values()) == {"6404"}
    pengyang = db.session.scalars(sa.select(Project).where(Project.county_code == "640425")).all()
    assert pengyang and all(p.subsidy_type for p in pengyang)
    land = {(p.county_code, p.year) for p in db.session.scalars(sa.select(Project)) if p.subsidy_type == "gengdi_baohu"}
    years = {y for c, y in land if c == "640425"}
    assert {("640402", y) for y in years} <= land
    before = db.session.scalar(sa.select(sa.func.count()).select_from(SubsidyType))
    load_demo(households_per_village=3)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubsidyType)) == before


def test_the_demo_shows_one_account_flagged_in_two_counties(loaded, app):
    from subsidy.demo import DEMO_PASSWORD
    from subsidy.filings.models import Entry, EntryFlag, Filing, FlagCode
    from subsidy.households.models import Household

    rows = db.session.execute(
        sa.select(Filing.region_code, Filing.id, Household.payout_account)
        .join(EntryFlag, EntryFlag.filing_id == Filing.id).join(Entry, Entry.id == EntryFlag.entry_id)
        .join(Household, Household.id == Entry.household_id)
        .where(EntryFlag.code == FlagCode.shared_account_other_county)).all()
    assert {code[:6] for code, _, _ in rows} == {"640425", "640402"}
    assert len({account for _, _, account in rows}) == 1
    # the city supervisor reads both flagged lists
    c = app.test_client()
    assert c.post("/login", data={"username": "citysupervisor", "password": DEMO_PASSWORD}).status_code == 302
    for _, filing_id, _ in rows:
        assert "一卡通账号与外县同类补贴" in c.get(f"/filings/{filing_id}").get_data(as_text=True)

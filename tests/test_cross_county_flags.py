"""Cross-county risk flags (docs/design.md "Three-level filing and review"): one payout account
(or phone) on households listed for the same subsidy type and year in two counties of the city is
flagged on both filings; another type or another year is not; the explanation names neither the
other county nor the household; the township answers the flag before it approves."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.catalogue import service as catalogue
from subsidy.errors import InvalidTransition
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryFlag, FilingState, FlagCode
from tests.factories import make_city, make_user
from tests.filings_support import act, make_world, note_all_flags, walk_to

S = FilingState
ACCOUNT, PHONE = FlagCode.shared_account_other_county, FlagCode.shared_phone_other_county
PENGYANG, YUANZHOU = "640425100201", "640402100201"


@pytest.fixture
def types(db, county):
    make_city()
    admin = make_user("city_admin", "6404")
    land = catalogue.create_type(admin, code="gengdi_baohu", name="耕地地力保护补贴", unit="mu")
    film = catalogue.create_type(admin, code="dimo_fugai", name="地膜覆盖补贴", unit="mu")
    db.session.commit()
    return land, film


def _worlds(types, *, other_type=None, other_year=2024, n=2):
    land = types[0]
    here = make_world(n, PENGYANG, county_code="640425", subsidy_type_id=land.id, year=2024)
    there = make_world(1, YUANZHOU, county_code="640402", year=other_year,
                       subsidy_type_id=(other_type or land).id)
    return here, there


def _flags(filing, code) -> dict[int, str]:
    """household id → explanation of the filing's flags of `code`."""
    return dict(db.session.execute(
        sa.select(Entry.household_id, EntryFlag.explanation).join(Entry, Entry.id == EntryFlag.entry_id)
        .where(EntryFlag.filing_id == filing.id, EntryFlag.code == code)).all())


def _share(here, there, column: str):
    setattr(there.households[0], column, getattr(here.households[0], column))
    db.session.commit()


@pytest.mark.parametrize(("column", "code"), [("payout_account", ACCOUNT), ("phone", PHONE)])
def test_one_account_in_two_counties_is_flagged_on_both_filings(types, column, code):
    here, there = _worlds(types)
    _share(here, there, column)
    walk_to(here, S.publicizing)
    # the other county's list is still a draft (not yet anyone's record): nothing yet
    assert _flags(here.filing, code) == {}
    walk_to(there, S.publicizing)
    mine, theirs = here.households[0], there.households[0]
    assert set(_flags(there.filing, code)) == {theirs.id}
    # the mirror on the list under review in 彭阳县, without waiting for its next check
    assert set(_flags(here.filing, code)) == {mine.id}
    # and the next check of 彭阳县's list finds it itself
    act(here.clerk, here.filing, "submit")
    assert set(_flags(here.filing, code)) == {mine.id}
    other = ACCOUNT if code == PHONE else PHONE
    assert _flags(here.filing, other) == {} and _flags(there.filing, other) == {}


@pytest.mark.parametrize("column", ["payout_account", "phone"])
def test_another_type_or_another_year_is_not_flagged(types, column):
    for kw in ({"other_type": types[1]}, {"other_year": 2023}):
        here, there = _worlds(types, **kw)
        _share(here, there, column)
        walk_to(here, S.publicizing)
        walk_to(there, S.publicizing)
        for filing in (here.filing, there.filing):
            assert _flags(filing, ACCOUNT) == {} and _flags(filing, PHONE) == {}, kw


def test_projects_without_a_type_are_not_compared(db, county):
    make_city()
    here = make_world(1, PENGYANG, county_code="640425", year=2024)
    there = make_world(1, YUANZHOU, county_code="640402", year=2024)
    _share(here, there, "payout_account")
    walk_to(here, S.publicizing)
    walk_to(there, S.publicizing)
    assert _flags(here.filing, ACCOUNT) == {} and _flags(there.filing, ACCOUNT) == {}


def test_the_same_county_is_not_another_county(types):
    """Two villages of 彭阳县 sharing an account: the county's own check says so, not this one."""
    land = types[0]
    a = make_world(1, PENGYANG, county_code="640425", subsidy_type_id=land.id, year=2024)
    b = make_world(1, "640425101201", county_code="640425", subsidy_type_id=land.id, year=2024,
                   name="耕地地力保护补贴（王洼）")
    _share(a, b, "payout_account")
    walk_to(a, S.publicizing)
    walk_to(b, S.publicizing)
    assert _flags(a.filing, ACCOUNT) == {} and _flags(b.filing, ACCOUNT) == {}
    assert set(_flags(b.filing, FlagCode.shared_account)) == {b.households[0].id}


def test_the_explanation_gives_counts_only(types):
    here, there = _worlds(types)
    _share(here, there, "payout_account")
    walk_to(here, S.publicizing)
    walk_to(there, S.publicizing)
    texts = list(_flags(here.filing, ACCOUNT).values()) + list(_flags(there.filing, ACCOUNT).values())
    assert texts == ["一卡通账号与外县同类补贴（同年度）名单中的 1 户相同，请核实是否重复领取或代领"] * 2
    leaks = ["彭阳", "原州", "640425", "640402", here.households[0].head_name, there.households[0].head_name,
             here.households[0].id_number, there.households[0].id_number]
    assert not [word for word in leaks for text in texts if word in text]


def test_a_household_listed_by_both_counties_is_flagged_and_a_closed_list_is_not_rewritten(types):
    """A household that moved (here: its village changed) and is listed by both counties: the
    same household, caught by the other *filing's* county. The approved list it left is a closed
    record: no mirror flag is written on it."""
    land = types[0]
    here = make_world(1, PENGYANG, county_code="640425", subsidy_type_id=land.id, year=2024)
    walk_to(here, S.county_approved)
    mover = here.households[0]
    mover.region_code = YUANZHOU
    db.session.commit()
    there = make_world(0, YUANZHOU, county_code="640402", subsidy_type_id=land.id, year=2024)
    from subsidy.filings import entries

    entries.add_entry(there.clerk, there.filing.id, mover.id)
    db.session.commit()
    walk_to(there, S.publicizing)
    assert set(_flags(there.filing, ACCOUNT)) == {mover.id}
    assert set(_flags(there.filing, PHONE)) == {mover.id}
    assert _flags(here.filing, ACCOUNT) == {}


def test_the_township_approves_only_once_the_flag_is_answered(types):
    here, there = _worlds(types)
    _share(here, there, "payout_account")
    walk_to(there, S.publicizing)
    walk_to(here, S.village_filed)
    assert set(_flags(here.filing, ACCOUNT)) == {here.households[0].id}
    with pytest.raises(InvalidTransition) as exc:
        act(here.township, here.filing, "approve")
    assert "有风险提示但没有审核意见" in exc.value.message
    db.session.rollback()
    note_all_flags(here.township, here.filing)
    act(here.township, here.filing, "approve")
    assert here.filing.state == S.township_approved
    # the county's re-check finds it again; already answered this round, the county approves
    act(here.county, here.filing, "approve")
    assert here.filing.state == S.county_approved


# --- the sweep over a whole city (flask filings cross-county) ---------------------------------------

def test_the_sweep_finds_what_the_per_filing_checks_could_not_see(types, runner):
    """Both lists publicized before their projects were given a type: no check could compare
    them then. The nightly sweep flags both, once, and names no county."""
    from subsidy.audit.models import AuditEvent
    from subsidy.filings.cross_county import sweep

    here = make_world(2, PENGYANG, county_code="640425", year=2024)
    there = make_world(1, YUANZHOU, county_code="640402", year=2024)
    decoy = make_world(1, "640422100201", county_code="640422", year=2024)
    _share(here, there, "payout_account")
    decoy.households[0].payout_account = here.households[0].payout_account  # under another type: not compared
    db.session.commit()
    for world in (here, there, decoy):
        walk_to(world, S.publicizing)
    assert _flags(here.filing, ACCOUNT) == {} and _flags(there.filing, ACCOUNT) == {}
    here.project.subsidy_type_id = there.project.subsidy_type_id = types[0].id
    decoy.project.subsidy_type_id = types[1].id
    db.session.commit()
    assert sweep("6405") == {"shared_account_other_county_found": 0, "shared_account_other_county_added": 0,
                             "shared_phone_other_county_found": 0, "shared_phone_other_county_added": 0}
    result = runner.invoke(args=["filings", "cross-county", "--region", "640400"])
    assert result.exit_code == 0, result.output
    assert "shared_account_other_county_added 2" in result.output
    assert set(_flags(here.filing, ACCOUNT)) == {here.households[0].id}
    assert set(_flags(there.filing, ACCOUNT)) == {there.households[0].id}
    assert _flags(decoy.filing, ACCOUNT) == {}
    text = _flags(here.filing, ACCOUNT)[here.households[0].id]
    assert "1 户" in text and "原州" not in text and "640402" not in text
    # idempotent: a second night adds nothing; each night is audited as the system's act
    again = sweep("6404")
    assert again["shared_account_other_county_found"] == 2 and again["shared_account_other_county_added"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "filing.cross_county_sweep")) == 3


def test_the_sweep_leaves_a_closed_list_alone(types):
    from subsidy.filings.cross_county import sweep

    here = make_world(1, PENGYANG, county_code="640425", year=2024)
    there = make_world(1, YUANZHOU, county_code="640402", year=2024)
    _share(here, there, "phone")
    walk_to(here, S.county_approved)
    walk_to(there, S.publicizing)
    here.project.subsidy_type_id = there.project.subsidy_type_id = types[0].id
    db.session.commit()
    result = sweep()
    assert result["shared_phone_other_county_added"] == 1
    assert set(_flags(there.filing, PHONE)) == {there.households[0].id}
    assert _flags(here.filing, PHONE) == {}  # approved: its record is closed

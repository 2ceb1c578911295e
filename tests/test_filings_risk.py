"""Risk checks: a planted set of irregular entries, one of each kind, is flagged exactly, and the
clean entries are not; flags are recomputed at each review."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.common.database import finish
from subsidy.errors import InvalidTransition
from subsidy.extensions import db
from subsidy.filings import entries, risk, service
from subsidy.filings.models import Entry, EntryFlag, FilingState, FlagCode, WatchCategory
from subsidy.projects.models import Unit
from tests.factories import (
    HouseholdFactory,
    ProjectFactory,
    RegionFactory,
    WatchListFactory,
    make_user,
    valid_id_number,
)
from tests.filings_support import act, make_world, note_all_flags, walk_to

S = FilingState
V1, V2, V_OTHER_TOWNSHIP = "640425100201", "640425100202", "640425101201"


def _wrong_check_digit(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("0" if last != "0" else "1")


def _flags(filing) -> dict[int, set[FlagCode]]:
    rows = db.session.execute(sa.select(Entry.household_id, EntryFlag.code).join(Entry, Entry.id == EntryFlag.entry_id)
                              .where(EntryFlag.filing_id == filing.id)).all()
    out = defaultdict(set)
    for household_id, code in rows:
        out[household_id].add(code)
    return dict(out)


def _explanations(filing) -> dict[tuple[int, FlagCode], str]:
    rows = db.session.execute(sa.select(Entry.household_id, EntryFlag.code, EntryFlag.explanation)
                              .join(Entry, Entry.id == EntryFlag.entry_id).where(EntryFlag.filing_id == filing.id))
    return {(h, c): e for h, c, e in rows}


@pytest.fixture
def planted(county):
    """A per-亩 project (105 元/亩); village 201 lists two clean households and one of each risk."""
    RegionFactory(code="640402", name="原州区", level="county")
    RegionFactory(code="640402100", name="别镇", level="township", parent_code="640402")
    RegionFactory(code="640402100201", name="别村", level="village", parent_code="640402100")
    project = ProjectFactory(unit=Unit.mu, rate=Decimal("105.00"))
    clerk1, clerk2 = make_user("village_clerk", V1), make_user("village_clerk", V2)
    hh = {name: HouseholdFactory(region_code=V1, land_area_mu=Decimal("12.50")) for name in
          ("clean1", "clean2", "invalid_id", "duplicate_id", "amount", "quantity", "shared", "watch", "no_phone")}
    # invalid ID: a wrong check digit (a record from before validation)
    hh["invalid_id"].id_number = _wrong_check_digit(valid_id_number())
    # the same person (same first 17 characters) listed for the project in village 202
    twin = HouseholdFactory(region_code=V2, id_number=_wrong_check_digit(hh["duplicate_id"].id_number))
    # one account shared with a household of another township of the county (not in any filing)
    HouseholdFactory(region_code=V_OTHER_TOWNSHIP, payout_account=hh["shared"].payout_account)
    # a clean household's account also used in another county: not this county's business
    HouseholdFactory(region_code="640402100201", payout_account=hh["clean1"].payout_account)
    # watch list: a village cadre here; a clean household listed by another county only
    WatchListFactory(id_number=hh["watch"].id_number, category=WatchCategory.village_cadre, source="乡镇组织办")
    WatchListFactory(id_number=hh["watch"].id_number, category=WatchCategory.public_payroll, source="财政局")
    WatchListFactory(county_code="640402", id_number=hh["clean2"].id_number)
    hh["no_phone"].phone = None
    db.session.commit()

    f1 = service.start_filing(clerk1, project.id)
    f2 = service.start_filing(clerk2, project.id)
    entries.add_entry(clerk2, f2.id, twin.id)
    for name, h in hh.items():
        quantity = Decimal("20.00") if name == "quantity" else None
        amount = Decimal("1313.50") if name == "amount" else None
        entries.add_entry(clerk1, f1.id, h.id, quantity=quantity, amount=amount)
    db.session.commit()
    return {"project": project, "f1": f1, "f2": f2, "hh": hh, "twin": twin, "clerk": clerk1}


def test_each_planted_irregularity_is_flagged_and_nothing_else(planted):
    hh, f1 = planted["hh"], planted["f1"]
    risk.run_checks(f1)
    db.session.commit()
    expected = {
        hh["invalid_id"].id: {FlagCode.invalid_id},
        hh["duplicate_id"].id: {FlagCode.duplicate_id},
        hh["amount"].id: {FlagCode.amount_above_rate},
        hh["quantity"].id: {FlagCode.quantity_above_land},
        hh["shared"].id: {FlagCode.shared_account},
        hh["watch"].id: {FlagCode.watch_list},
        hh["no_phone"].id: {FlagCode.no_phone},
    }
    assert _flags(f1) == expected
    text = _explanations(f1)
    assert "校验位不正确" in text[(hh["invalid_id"].id, FlagCode.invalid_id)]
    assert "白阳镇202村" in text[(hh["duplicate_id"].id, FlagCode.duplicate_id)]
    assert text[(hh["amount"].id, FlagCode.amount_above_rate)] == (
        "申报金额 1313.50 元，高于补贴标准×数量 = 105.00×12.50 = 1312.50 元")
    assert text[(hh["quantity"].id, FlagCode.quantity_above_land)] == "申报 20.00 亩，超过名册登记的耕地面积 12.50 亩"
    assert "另外 1 户" in text[(hh["shared"].id, FlagCode.shared_account)]
    watch = text[(hh["watch"].id, FlagCode.watch_list)]
    assert "村干部（来源：乡镇组织办）" in watch and "财政供养人员（来源：财政局）" in watch
    assert "手机" in text[(hh["no_phone"].id, FlagCode.no_phone)]
    # the other village's filing sees the same person from its side (and its invalid number)
    risk.run_checks(planted["f2"])
    assert _flags(planted["f2"]) == {planted["twin"].id: {FlagCode.duplicate_id, FlagCode.invalid_id}}


def test_checks_rerun_on_a_single_entry_when_it_is_added_or_changed(planted):
    """The entry's own flags come back with it (API: POST /filings/{id}/entries → flags)."""
    hh, f1 = planted["hh"], planted["f1"]
    assert _flags(f1)[hh["amount"].id] == {FlagCode.amount_above_rate}
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.household_id == hh["amount"].id))
    entries.update_entry(planted["clerk"], f1.id, entry_id, amount=Decimal("1312.50"))
    db.session.commit()
    assert hh["amount"].id not in _flags(f1)
    assert len(_flags(f1)) == 6


def test_per_mu_rule_only_for_per_mu_projects(county):
    w = make_world(1, unit=Unit.household, rate=Decimal("500.00"))
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.filing_id == w.filing.id))
    entries.update_entry(w.clerk, w.filing.id, entry_id, quantity=Decimal("99"), amount=Decimal("49500.00"))
    db.session.commit()
    assert _flags(w.filing) == {}  # 99 households' worth is odd, but no land rule applies


def test_flags_are_recomputed_at_each_review(county):
    w = make_world(2)
    f = walk_to(w, S.village_filed)
    assert _flags(f) == {}
    # after the village filed, the county learns that one head has died
    WatchListFactory(id_number=w.households[1].id_number, category=WatchCategory.deceased, source="民政局")
    db.session.commit()
    with pytest.raises(InvalidTransition, match="还有 1 户有风险提示"):
        act(w.township, f, "approve")
    db.session.rollback()
    # the refusal undid its own recheck; the page recomputes nothing by itself, the review does
    risk.run_checks(f)
    db.session.commit()
    assert _flags(f) == {w.households[1].id: {FlagCode.watch_list}}
    assert "已故（来源：民政局）" in _explanations(f)[(w.households[1].id, FlagCode.watch_list)]
    note_all_flags(w.township, f)
    act(w.township, f, "approve")
    assert f.state == S.township_approved


def test_a_flag_raised_at_the_county_is_answered_not_blocking(county):
    """A flag is for the reviewer to answer: one the county's re-check raises (the phone removed
    after the township's review) holds up 审定 until the county writes its note, no longer."""
    w = make_world(2)
    f = walk_to(w, S.township_approved)
    w.households[0].phone = None
    db.session.commit()
    with pytest.raises(InvalidTransition, match="复核发现 1 户有风险提示但没有审核意见"):
        act(w.county, f, "approve")
    finish(db.session, commit=False)   # as the request's end does: the re-check's flags are kept
    assert _flags(f) == {w.households[0].id: {FlagCode.no_phone}}
    note_all_flags(w.county, f)
    act(w.county, f, "approve")
    assert f.state == S.county_approved
    assert _flags(f) == {w.households[0].id: {FlagCode.no_phone}}

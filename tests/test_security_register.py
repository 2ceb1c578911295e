"""The register is not an ID-number oracle, and households move by transfer (security probe,
finding 5; DESIGN.md §6 "Transfers")."""
from __future__ import annotations

import json

import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.households.models import Household
from tests.factories import HouseholdFactory

CLERK_VILLAGE, OTHER_VILLAGE = "640425100201", "640425101202"


def test_a_number_registered_elsewhere_is_refused_without_saying_where(api_as, county, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "ID_ELSEWHERE_PER_HOUR", 3)
    elsewhere = [HouseholdFactory(region_code=OTHER_VILLAGE, head_name=f"外村{i}") for i in range(4)]
    mine = HouseholdFactory(region_code=CLERK_VILLAGE, head_name="本村人")
    db.session.commit()
    api = api_as("village_clerk", CLERK_VILLAGE)
    answers = [api.post("/api/v1/households", json={"head_name": "王五", "id_number": h.id_number, "members": 2})
               for h in elsewhere]
    assert [a.status_code for a in answers] == [409, 409, 409, 429]
    text = str([a.json for a in answers])
    assert "王洼镇" not in text and OTHER_VILLAGE not in text and "外村" not in text and "其他村" not in text
    assert "县级管理员办理迁户" in answers[0].json["error"]["fields"]["id_number"]
    # the same village's own registration is named (the clerk sees that register anyway)
    same = api.post("/api/v1/households", json={"head_name": "王五", "id_number": mine.id_number, "members": 2})
    assert same.status_code == 409 and "本村人" in same.json["error"]["fields"]["id_number"]
    # every probe is on the record though each was refused
    db.session.rollback()
    probes = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.id_elsewhere")).all()
    assert len(probes) == 4 and {p.region_code for p in probes} == {CLERK_VILLAGE}
    assert elsewhere[0].id_number in probes[0].detail
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 5


def test_the_county_admin_transfers_a_household_with_its_history(api_as, login_as, county, db):
    from subsidy.filings.models import FilingState
    from tests.filings_support import make_world, walk_to

    w = make_world(2, village=OTHER_VILLAGE)
    walk_to(w, FilingState.county_approved)
    mover = w.households[0]
    admin = api_as("county_admin")
    resp = admin.post(f"/api/v1/households/{mover.id}/transfer", json={"region_code": CLERK_VILLAGE, "reason": "婚迁"})
    assert resp.status_code == 200, resp.json
    assert resp.json["region_code"] == CLERK_VILLAGE
    db.session.expire_all()
    # the approved subsidy stays with it: the new village's clerk sees the household, and its entry
    assert db.session.get(Household, mover.id).region_code == CLERK_VILLAGE
    clerk = api_as("village_clerk", CLERK_VILLAGE)
    assert clerk.get(f"/api/v1/households/{mover.id}").status_code == 200
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.in_(
        ["household.transfer", "household.transfer_out"]))).all()
    assert {(e.action, e.region_code) for e in events} == {("household.transfer", CLERK_VILLAGE),
                                                           ("household.transfer_out", OTHER_VILLAGE)}
    # only the county admin transfers; a change of village by an edit is refused
    assert clerk.post(f"/api/v1/households/{mover.id}/transfer", json={"region_code": OTHER_VILLAGE,
                                                                        "reason": "x"}).status_code == 403
    refused = admin.patch(f"/api/v1/households/{mover.id}", json={"region_code": OTHER_VILLAGE})
    assert refused.status_code == 400 and "迁户" in refused.json["error"]["fields"]["region_code"]


def test_a_household_on_an_open_list_is_not_moved(api_as, county, db):
    from tests.filings_support import make_world

    w = make_world(1, village=OTHER_VILLAGE)  # a draft listing it
    resp = api_as("county_admin").post(f"/api/v1/households/{w.households[0].id}/transfer",
                                       json={"region_code": CLERK_VILLAGE, "reason": "户籍迁移"})
    assert resp.status_code == 409 and "尚未县级审定" in resp.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Household, w.households[0].id).region_code == OTHER_VILLAGE


def test_the_transfer_form_on_the_household_page(login_as, county, db):
    target = HouseholdFactory(region_code=OTHER_VILLAGE, head_name="迁出户")
    db.session.commit()
    page = login_as("county_admin")
    html = page.get(f"/households/{target.id}").get_data(as_text=True)
    assert 'id="transfer"' in html and CLERK_VILLAGE in html
    bad = page.post(f"/households/{target.id}/transfer", data={"region_code": CLERK_VILLAGE, "reason": ""})
    assert bad.status_code == 422 and "请填写迁户原因" in bad.get_data(as_text=True)
    ok = page.post(f"/households/{target.id}/transfer", data={"region_code": CLERK_VILLAGE, "reason": "婚迁"})
    assert ok.status_code == 302
    resp = login_as("village_clerk", CLERK_VILLAGE).get(f"/households/{target.id}")
    assert 'id="transfer"' not in resp.get_data(as_text=True)


def test_the_staff_case_form_is_no_way_round_the_limit(login_as, county, db, app, monkeypatch):
    """Naming who raises a case by ID number answers for the whole county, so another
    village's number is audited and counted as the register counts it."""
    from subsidy.cases import queries
    from subsidy.common.database import finish
    from subsidy.errors import TooManyRequests
    from tests.factories import make_user

    monkeypatch.setitem(app.config, "ID_ELSEWHERE_PER_HOUR", 2)
    elsewhere = [HouseholdFactory(region_code=OTHER_VILLAGE) for _ in range(3)]
    mine = HouseholdFactory(region_code=CLERK_VILLAGE)
    clerk = make_user("village_clerk", CLERK_VILLAGE)
    db.session.commit()
    assert queries.household_by_id_number(clerk, mine.id_number) == mine.id
    for household in elsewhere[:2]:  # one request each: the edge commits what each one wrote
        assert queries.household_by_id_number(clerk, household.id_number) == household.id
        finish(db.session, commit=True)
    try:
        queries.household_by_id_number(clerk, elsewhere[2].id_number)
        raise AssertionError("the third answer in the hour must be refused")
    except TooManyRequests:
        pass
    finish(db.session, commit=False)  # the refused request: its probe is kept all the same
    probes = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "household.id_elsewhere")).all()
    assert len(probes) == 3 and {json.loads(p.detail)["source"] for p in probes} == {"case"}

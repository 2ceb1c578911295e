"""迁户 across counties (docs/design.md "Household register"): the city admin moves a household
between the counties of its city, the county admin only within its own; a move that would leave
something undecided behind is refused and changes nothing; the county it left keeps reading its
whole file (its subsidies, payments and cases) but never changes it; the register's refusal of
a number registered elsewhere reads the same whichever county holds it; and migration 0025
reads the moves made before it from the audit log."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from subsidy import create_app
from subsidy.audit import service as audit
from subsidy.audit.models import AuditEvent
from subsidy.extensions import db
from subsidy.filings.models import Entry, FilingState
from subsidy.households.models import Household, HouseholdMove
from subsidy.households.service import REGISTERED_ELSEWHERE
from subsidy.payments import service as payments
from subsidy.recoveries.models import Recovery
from subsidy.regions.models import Level
from tests.conftest import TEST_DATABASE_URL
from tests.factories import CaseFactory, HouseholdFactory, RegionFactory, make_city, make_user
from tests.filings_support import make_world, walk_to

OLD_VILLAGE = "640425100201"  # 彭阳县 白阳镇
OTHER_VILLAGE_SAME_COUNTY = "640425101202"  # 彭阳县 王洼镇
NEW_VILLAGE = "640402100201"  # 原州区
OTHER_CITY_VILLAGE = "640502100201"  # 中卫市 中宁县
MOVE = {"region_code": NEW_VILLAGE, "reason": "全家迁居原州区"}


def _transfer_events():
    return db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action.in_(["household.transfer", "household.transfer_out"])).order_by(AuditEvent.id)).all()


@pytest.fixture
def history(db, county):
    """A 彭阳县 household with a county-approved subsidy, a payment in a batch and a case."""
    make_city()
    w = make_world(2, village=OLD_VILLAGE, county_code="640425", name="耕地地力保护补贴", rate=Decimal("105.00"))
    walk_to(w, FilingState.county_approved)
    batch = payments.create_batch(w.county, w.project.id).batch
    mover = w.households[0]
    case = CaseFactory(region_code=OLD_VILLAGE, assigned_region_code=OLD_VILLAGE[:9], household_id=mover.id,
                       subject="补贴到账没有")
    db.session.commit()
    w.batch, w.mover, w.case = batch, mover, case
    return w


# -- who moves where -------------------------------------------------------------------------------
def test_a_county_admin_cannot_move_a_household_to_another_county(api_as, history):
    resp = api_as("county_admin", "640425").post(f"/api/v1/households/{history.mover.id}/transfer", json=MOVE)
    assert resp.status_code == 404
    assert "跨县迁户由市级管理员办理" in resp.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Household, history.mover.id).region_code == OLD_VILLAGE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HouseholdMove)) == 0
    assert _transfer_events() == []
    # nor may it take another county's household (404: it does not see it)
    stranger = HouseholdFactory(region_code=NEW_VILLAGE)
    db.session.commit()
    resp = api_as("county_admin", "640425").post(f"/api/v1/households/{stranger.id}/transfer",
                                                 json={"region_code": OLD_VILLAGE, "reason": "婚迁"})
    assert resp.status_code == 404


def test_the_city_admin_moves_a_household_from_640425_to_640402(api_as, history):
    city = api_as("city_admin", "6404")
    resp = city.post(f"/api/v1/households/{history.mover.id}/transfer", json=MOVE)
    assert resp.status_code == 200, resp.json
    assert resp.json["region_code"] == NEW_VILLAGE
    db.session.expire_all()
    assert db.session.get(Household, history.mover.id).region_code == NEW_VILLAGE
    move = db.session.scalars(sa.select(HouseholdMove)).one()
    assert (move.household_id, move.from_region, move.to_region, move.moved_by, move.reason) == (
        history.mover.id, OLD_VILLAGE, NEW_VILLAGE, city.user.id, "全家迁居原州区")
    # an event on each side: the new county's log shows who came, the old one's who left
    events = _transfer_events()
    assert [(e.action, e.region_code, e.actor_id) for e in events] == [
        ("household.transfer", NEW_VILLAGE, city.user.id), ("household.transfer_out", OLD_VILLAGE, city.user.id)]
    assert {json.loads(e.detail)["move"] for e in events} == {move.id}
    # its rows stay where they were made: the entry in 彭阳县's filing, the payment in its batch
    assert db.session.scalar(sa.select(Entry.filing_id).where(Entry.household_id == history.mover.id)) == \
        history.filing.id


def test_the_city_admin_stays_in_its_city(api_as, history):
    city = api_as("city_admin", "6404")
    resp = city.post(f"/api/v1/households/{history.mover.id}/transfer",
                     json={"region_code": OTHER_CITY_VILLAGE, "reason": "迁往中卫"})
    assert resp.status_code == 404
    stranger = HouseholdFactory(region_code=OTHER_CITY_VILLAGE)
    db.session.commit()
    assert city.post(f"/api/v1/households/{stranger.id}/transfer", json=MOVE).status_code == 404
    assert city.get(f"/api/v1/households/{stranger.id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Household, history.mover.id).region_code == OLD_VILLAGE


# -- refused while something is left behind --------------------------------------------------------
def _open_filing(w):
    other = make_world(1, village=OLD_VILLAGE, county_code="640425", name="基础母牛养殖补贴")
    from subsidy.filings import entries

    entries.add_entry(other.clerk, other.filing.id, w.mover.id)
    db.session.commit()
    return "尚未县级审定", "listed_in_open_filing"


def _hold(w):
    from subsidy.filings import holds

    entry = db.session.scalar(sa.select(Entry).where(Entry.household_id == w.mover.id))
    holds.hold_entry(make_user("supervisor", "640425"), w.filing.id, entry.id, "群众反映已迁出，正在核查")
    db.session.commit()
    return "止付", "held_entry"


def _recovery(w):
    db.session.add(Recovery(county_code="640425", region_code=OLD_VILLAGE, household_id=w.mover.id,
                            amount_due=Decimal("105.00"), reason="多报面积"))
    db.session.commit()
    return "追回", "open_recovery"


@pytest.mark.parametrize("blocker", [_open_filing, _hold, _recovery])
def test_a_move_across_counties_is_refused_while_something_is_open(api_as, history, blocker):
    said, code = blocker(history)
    resp = api_as("city_admin", "6404").post(f"/api/v1/households/{history.mover.id}/transfer", json=MOVE)
    assert resp.status_code == 409, resp.json
    assert resp.json["error"]["code"] == code and said in resp.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Household, history.mover.id).region_code == OLD_VILLAGE
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HouseholdMove)) == 0
    assert _transfer_events() == []


def test_a_move_within_the_county_still_leaves_a_hold_with_its_county(api_as, history):
    """A hold or a recovery stays with the same county when the household moves inside it."""
    _hold(history)
    resp = api_as("county_admin", "640425").post(f"/api/v1/households/{history.mover.id}/transfer",
                                                 json={"region_code": OTHER_VILLAGE_SAME_COUNTY, "reason": "婚迁"})
    assert resp.status_code == 200, resp.json
    assert db.session.scalars(sa.select(HouseholdMove.to_region)).all() == [OTHER_VILLAGE_SAME_COUNTY]


# -- both counties read its file; only the new one changes it ------------------------------------
def _moved(api_as, history):
    assert api_as("city_admin", "6404").post(f"/api/v1/households/{history.mover.id}/transfer",
                                             json=MOVE).status_code == 200
    # a question raised in its new county after the move
    after = CaseFactory(region_code=NEW_VILLAGE, assigned_region_code=NEW_VILLAGE[:9], household_id=history.mover.id,
                        subject="迁入后在哪里申报")
    db.session.commit()
    return after


def test_both_counties_supervisors_read_the_whole_file(api_as, login_as, history):
    after = _moved(api_as, history)
    for region in ("640425", "640402"):
        page = login_as("supervisor", region)
        resp = page.get(f"/households/{history.mover.id}")
        assert resp.status_code == 200, region
        html = resp.get_data(as_text=True)
        assert "耕地地力保护补贴" in html, region  # the entry
        assert f"批次 {history.batch.id}" in html, region  # the payment
        assert history.case.subject in html and after.subject in html, region  # the cases, before and after
        assert 'id="household-moves"' in html and "全家迁居原州区" in html
        assert api_as("supervisor", region).get(f"/api/v1/households/{history.mover.id}").status_code == 200
    # the rows outside the reader's range are shown, not linked (their pages would be a 404)
    html = login_as("supervisor", "640425").get(f"/households/{history.mover.id}").get_data(as_text=True)
    assert f'href="/payments/batches/{history.batch.id}"' in html
    assert f'href="/cases/{history.case.id}"' in html and f'href="/cases/{after.id}"' not in html
    html = login_as("supervisor", "640402").get(f"/households/{history.mover.id}").get_data(as_text=True)
    assert f'href="/payments/batches/{history.batch.id}"' not in html and f"批次 {history.batch.id}" in html


def test_the_old_countys_reviewer_reads_the_file_and_its_own_cases_only(api_as, login_as, history):
    after = _moved(api_as, history)
    html = login_as("county_reviewer", "640425").get(f"/households/{history.mover.id}").get_data(as_text=True)
    assert "耕地地力保护补贴" in html and f"批次 {history.batch.id}" in html
    assert history.case.subject in html and after.subject not in html


def test_the_old_county_cannot_change_it(api_as, login_as, history):
    _moved(api_as, history)
    hid = history.mover.id
    # the old village's clerk no longer has it at all (404, as any other village's household)
    clerk = api_as("village_clerk", OLD_VILLAGE)
    assert clerk.get(f"/api/v1/households/{hid}").status_code == 404
    assert clerk.patch(f"/api/v1/households/{hid}", json={"phone": "13909541111"}).status_code == 404
    assert login_as("village_clerk", OLD_VILLAGE).get(f"/households/{hid}/edit").status_code == 404
    # the old county's admin reads it, and is refused any change (403: it may see it)
    admin = api_as("county_admin", "640425")
    assert admin.get(f"/api/v1/households/{hid}").status_code == 200
    assert admin.patch(f"/api/v1/households/{hid}", json={"phone": "13909541111"}).status_code == 403
    back = admin.post(f"/api/v1/households/{hid}/transfer", json={"region_code": OLD_VILLAGE, "reason": "回迁"})
    assert back.status_code == 403
    page = login_as("county_admin", "640425")
    assert page.get(f"/households/{hid}/edit").status_code == 403
    html = page.get(f"/households/{hid}").get_data(as_text=True)
    assert f'href="/households/{hid}/edit"' not in html and 'id="transfer"' not in html
    db.session.expire_all()
    assert db.session.get(Household, hid).phone != "13909541111"
    # the new county changes it
    assert api_as("county_admin", "640402").patch(f"/api/v1/households/{hid}",
                                                  json={"phone": "13909541111"}).status_code == 200


def test_a_household_never_moved_stays_hidden_from_other_counties(api_as, history):
    assert api_as("supervisor", "640402").get(f"/api/v1/households/{history.mover.id}").status_code == 404


# -- the register's refusal does not say where ----------------------------------------------------
@pytest.mark.parametrize(("role", "region", "target"), [
    ("village_clerk", OLD_VILLAGE, None), ("county_admin", "640425", OLD_VILLAGE)])
def test_the_refusal_reads_the_same_for_a_number_in_this_county_or_another(api_as, db, county, role, region,
                                                                          target):
    make_city()
    same_county = HouseholdFactory(region_code=OTHER_VILLAGE_SAME_COUNTY)
    other_county = HouseholdFactory(region_code=NEW_VILLAGE)
    db.session.commit()
    api = api_as(role, region)
    answers = []
    for other in (same_county, other_county):
        body = {"head_name": "王五", "id_number": other.id_number, "members": 2}
        if target:
            body["region_code"] = target
        answers.append(api.post("/api/v1/households", json=body))
    assert [a.status_code for a in answers] == [409, 409]
    assert answers[0].json == answers[1].json
    assert answers[0].json["error"]["fields"]["id_number"] == REGISTERED_ELSEWHERE
    assert "跨县迁户由市级管理员办理" in REGISTERED_ELSEWHERE


def test_the_import_and_the_throttle_read_the_same_too(api_as, db, county, app, monkeypatch):
    from tests.factories import make_xlsx
    from tests.test_households_import import HEADERS, upload

    make_city()
    numbers = [HouseholdFactory(region_code=code).id_number for code in (OTHER_VILLAGE_SAME_COUNTY, NEW_VILLAGE)]
    db.session.commit()
    api = api_as("village_clerk", OLD_VILLAGE)
    answers = [upload(api, make_xlsx(HEADERS, [["王五", number, "", "", 2, 3]])) for number in numbers]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json == answers[1].json
    assert answers[0].json["errors"][0]["message"] == REGISTERED_ELSEWHERE
    monkeypatch.setitem(app.config, "ID_ELSEWHERE_PER_HOUR", 2)  # two answered already
    throttled = [api.post("/api/v1/households", json={"head_name": "王五", "id_number": n}) for n in numbers]
    assert [t.status_code for t in throttled] == [429, 429]
    assert throttled[0].json == throttled[1].json
    assert "跨县迁户由市级管理员办理" in throttled[0].json["error"]["message"]


# -- the page ---------------------------------------------------------------------------------------
def test_the_city_admin_moves_a_household_on_its_page(login_as, history):
    page = login_as("city_admin", "6404")
    assert page.get("/households/").status_code == 200
    html = page.get(f"/households/{history.mover.id}").get_data(as_text=True)
    # every village of the city but its own, grouped by county
    assert 'id="transfer"' in html
    for name in ("彭阳县", "原州区", "西吉县", "隆德县", "泾源县"):
        assert f'<optgroup label="{name}">' in html, name
    assert f'value="{NEW_VILLAGE}"' in html and f'value="{OTHER_VILLAGE_SAME_COUNTY}"' in html
    assert f'value="{OLD_VILLAGE}"' not in html and f'value="{OTHER_CITY_VILLAGE}"' not in html
    assert "耕地地力保护补贴" in html  # its subsidies, read in the city's range
    refused = page.post(f"/households/{history.mover.id}/transfer", data={"region_code": NEW_VILLAGE, "reason": ""})
    assert refused.status_code == 422 and "请填写迁户原因" in refused.get_data(as_text=True)
    ok = page.post(f"/households/{history.mover.id}/transfer", data=MOVE)
    assert ok.status_code == 302
    html = page.get(f"/households/{history.mover.id}").get_data(as_text=True)
    assert 'id="household-moves"' in html and "彭阳县 白阳镇" in html and "原州区" in html


def test_a_county_admin_is_offered_its_county_only(login_as, history):
    html = login_as("county_admin", "640425").get(f"/households/{history.mover.id}").get_data(as_text=True)
    assert f'value="{OTHER_VILLAGE_SAME_COUNTY}"' in html and f'value="{NEW_VILLAGE}"' not in html
    assert "<optgroup" not in html


# -- migration 0025: the moves before it, from the audit log ----------------------------------------
@pytest.fixture
def scratch_url(tmp_path):
    if TEST_DATABASE_URL:
        from tests.bench_support import scratch_postgres

        url, drop = scratch_postgres(TEST_DATABASE_URL, "_moves_migration")
        from subsidy.common.database import reset_postgres_schema

        reset_postgres_schema(url)
        yield url
        drop()
    else:
        yield "sqlite:///" + str(tmp_path / "migration.sqlite3")


def test_upgrade_0025_reads_the_moves_from_the_audit_log(scratch_url, tmp_path):
    other = create_app({"TESTING": True, "DATABASE_URL": scratch_url, "SECRET_KEY": "migration-test",
                        "SMS_OUTBOX_FILE": str(tmp_path / "sms.log"), "SERVER_NAME": None})
    with other.app_context():
        try:
            upgrade(revision="0022")
            RegionFactory(code="640425", name="彭阳县", level=Level.county)
            RegionFactory(code="640425100", name="白阳镇", level=Level.township, parent_code="640425")
            for code in ("640425100201", "640425100202", "640425100203"):
                RegionFactory(code=code, name=code, level=Level.village, parent_code="640425100")
            admin = make_user("county_admin", "640425")
            twice = HouseholdFactory(region_code="640425100203")
            once = HouseholdFactory(region_code="640425100202")
            db.session.flush()
            # as the transfer wrote them before the table: an event on each side, the detail's
            # source, target and reason; one household moved twice
            for household, source, target, reason in ((twice, "640425100201", "640425100202", "婚迁"),
                                                      (once, "640425100201", "640425100202", "户籍迁移"),
                                                      (twice, "640425100202", "640425100203", "x" * 250)):
                audit.record(admin, "household.transfer", "household", household.id, region_code=target,
                             source=source, target=target, reason=reason)
                audit.record(admin, "household.transfer_out", "household", household.id, region_code=source,
                             source=source, target=target, reason=reason)
            # a household the log names that is gone, and a village that no longer exists: skipped
            audit.record(None, "household.transfer", "household", 999999, region_code="640425100202",
                         source="640425100201", target="640425100202", reason="?")
            audit.record(None, "household.transfer", "household", once.id, region_code="640425100299",
                         source="640425100201", target="640425100299", reason="?")
            db.session.commit()
            events = db.session.scalars(sa.select(AuditEvent.at).where(
                AuditEvent.action == "household.transfer").order_by(AuditEvent.id)).all()
            admin_id, twice_id, once_id = admin.id, twice.id, once.id
            db.session.remove()

            upgrade(revision="0025")

            rows = db.session.execute(sa.select(
                HouseholdMove.household_id, HouseholdMove.from_region, HouseholdMove.to_region,
                HouseholdMove.moved_by, HouseholdMove.reason, HouseholdMove.moved_at).order_by(HouseholdMove.id)).all()
            assert [r[:5] for r in rows] == [
                (twice_id, "640425100201", "640425100202", admin_id, "婚迁"),
                (once_id, "640425100201", "640425100202", admin_id, "户籍迁移"),
                (twice_id, "640425100202", "640425100203", admin_id, "x" * 200),
            ]
            assert [r.moved_at for r in rows] == events[:3]
            # and the table is indexed on each side, as the readers need
            indexes = {i["name"] for i in sa.inspect(db.session.connection()).get_indexes("household_moves")}
            assert {"ix_household_moves_household_id", "ix_household_moves_from_region",
                    "ix_household_moves_to_region"} <= indexes
        finally:
            db.session.remove()
            db.engine.dispose()

"""The city's assessment of its counties (考核, docs/design.md "Assessment"): figures per period,
weighted scores, ranks with ties, figures without data, the API, the .xlsx export, who may read
and who may set the weights."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from subsidy.audit.models import AuditEvent
from subsidy.cases.models import CaseState
from subsidy.errors import PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Action, Filing, FilingState, Review
from subsidy.notify.models import MessageStatus
from subsidy.public.models import MobileSignIn
from subsidy.regions.models import Level
from subsidy.stats import assessment as A
from subsidy.stats.models import AssessmentWeight, Figure
from tests.factories import CaseFactory, HouseholdFactory, MessageFactory, ProjectFactory, make_city, make_user

F = Figure
YEAR = 2025
PENGYANG, YUANZHOU, XIJI, LONGDE, JINGYUAN = "640425", "640402", "640422", "640423", "640424"


def village(county: str) -> str:
    return county + "100201"  # the first village of each county (tests.factories.make_city)


def at(month: int, day: int = 10, year: int = YEAR) -> datetime:
    return datetime(year, month, day, 2, 0, tzinfo=UTC)  # 10:00 China time


def case(county: str, received: datetime, *, done: bool = True, late: bool = False, state=None):
    CaseFactory(region_code=village(county), assigned_region_code=county + "100", received_at=received,
                due_at=received + timedelta(days=3),
                state=state or (CaseState.replied if done else CaseState.received),
                replied_at=received + timedelta(days=1) if done else None, completed_late=late)


def household(county: str, registered: datetime, signed_in: datetime | None = None):
    with time_machine.travel(registered, tick=False):
        h = HouseholdFactory(region_code=village(county))
        db.session.flush()
    if signed_in is not None:
        with time_machine.travel(signed_in, tick=False):
            db.session.add(MobileSignIn(household_id=h.id))
            db.session.flush()
    return h


def owed_sms(h, created: datetime, status: MessageStatus):
    MessageFactory(template="filing_approved", household_id=h.id, region_code=h.region_code, status=status,
                   created_at=created)


def listed(county: str, publicity_ends: datetime, approved: datetime | None):
    """A list whose publicity ended at `publicity_ends`, county-approved at `approved` (or not)."""
    project = ProjectFactory(county_code=county, year=publicity_ends.year)
    state = FilingState.county_approved if approved else FilingState.village_filed
    f = Filing(project_id=project.id, region_code=village(county), state=state, round=1,
               publicized_at=publicity_ends - timedelta(days=7), publicity_ends_at=publicity_ends)
    db.session.add(f)
    db.session.flush()
    if approved:
        db.session.add(Review(filing_id=f.id, tier=Level.county, action=Action.approve, actor_name="县审核员",
                              at=approved, from_state=FilingState.township_approved,
                              to_state=FilingState.county_approved, version=4))
    db.session.flush()
    return f


@pytest.fixture
def city(county):
    return make_city()


def by_code(a: A.Assessment) -> dict[str, A.Item]:
    return {i.code: i for i in a.items}


# --- scores and ranks, as functions ----------------------------------------------------------

def test_equal_scores_share_a_rank_and_the_next_skips():
    items = [A.Item(c, c, {}, score=s) for c, s in (("a", 80.0), ("b", 90.0), ("c", 90.0), ("d", None), ("e", 70.5))]
    ranked = A.rank(items)
    assert [(i.code, i.rank) for i in ranked] == [("b", 1), ("c", 1), ("a", 3), ("e", 4), ("d", None)]


def test_a_figure_without_data_gives_its_weight_to_the_others():
    weights = {F.completion_rate: 50, F.on_time_rate: 30, F.mobile_rate: 20, F.notification_rate: 0,
               F.filing_timely_rate: 0}
    # every figure: (0.8·50 + 0.5·30 + 1.0·20) / 100
    assert A.score({F.completion_rate: 0.8, F.on_time_rate: 0.5, F.mobile_rate: 1.0}, weights) == 75.0
    # mobile without data: (0.8·50 + 0.5·30) / 80
    assert A.score({F.completion_rate: 0.8, F.on_time_rate: 0.5, F.mobile_rate: None}, weights) == 68.75
    # a figure not scored (weight 0) changes nothing, whatever its value
    assert A.score({F.completion_rate: 0.8, F.on_time_rate: 0.5, F.mobile_rate: None,
                    F.notification_rate: 0.0}, weights) == 68.75
    assert A.score({F.mobile_rate: None, F.notification_rate: 1.0}, weights) is None


# --- the figures over the city, per period ---------------------------------------------------

def _cases_world():
    # 彭阳: 4 cases in Q1, 3 completed, one of them late; 原州: 2 in Q2, both on time.
    for done, late in ((True, False), (True, False), (True, True), (False, False)):
        case(PENGYANG, at(2), done=done, late=late)
    case(YUANZHOU, at(5))
    case(YUANZHOU, at(6))
    # Rejected (spam) counts nowhere; a case of 2024 is not 2025's.
    case(PENGYANG, at(3), state=CaseState.rejected, done=False)
    case(PENGYANG, at(3, year=2024))
    db.session.commit()


def test_figures_of_the_year_and_of_each_quarter(city):
    _cases_world()
    year = by_code(A.assess(city, A.period(YEAR)))
    assert year[PENGYANG].counts[F.completion_rate] == (3, 4)
    assert year[PENGYANG].figures[F.completion_rate] == 0.75
    assert year[PENGYANG].figures[F.on_time_rate] == 0.667
    assert year[YUANZHOU].figures[F.completion_rate] == 1.0
    q1 = by_code(A.assess(city, A.period(YEAR, 1)))
    assert q1[PENGYANG].counts[F.completion_rate] == (3, 4)
    assert q1[YUANZHOU].figures[F.completion_rate] is None and q1[YUANZHOU].score is None
    q2 = by_code(A.assess(city, A.period(YEAR, "2")))
    assert q2[PENGYANG].figures[F.completion_rate] is None
    assert q2[YUANZHOU].counts[F.completion_rate] == (2, 2)
    # Quarters partition the year: the counts of the four add up to the year's.
    quarters = [by_code(A.assess(city, A.period(YEAR, q))) for q in (1, 2, 3, 4)]
    assert sum(q[PENGYANG].counts[F.completion_rate][1] for q in quarters) == 4


def test_quarter_boundaries_are_china_time(city):
    # 31 March 23:30 China time is Q1; 1 April 00:30 is Q2 (both 31 March in UTC).
    case(XIJI, datetime(YEAR, 3, 31, 15, 30, tzinfo=UTC))
    case(XIJI, datetime(YEAR, 3, 31, 16, 30, tzinfo=UTC))
    db.session.commit()
    assert by_code(A.assess(city, A.period(YEAR, 1)))[XIJI].counts[F.completion_rate] == (1, 1)
    assert by_code(A.assess(city, A.period(YEAR, 2)))[XIJI].counts[F.completion_rate] == (1, 1)


def test_notification_and_mobile_are_bounded_to_the_period(city):
    h1 = household(LONGDE, at(1), signed_in=at(2))
    h2 = household(LONGDE, at(1), signed_in=at(5))
    household(LONGDE, at(8))  # registered in Q3: not yet a household of Q1 or Q2
    owed_sms(h1, at(2), MessageStatus.delivered)
    owed_sms(h2, at(2), MessageStatus.failed)
    owed_sms(h2, at(7), MessageStatus.sent)
    MessageFactory(template="broadcast", household_id=h2.id, region_code=h2.region_code,
                   status=MessageStatus.delivered, created_at=at(2))  # a broadcast is owed to nobody
    db.session.commit()
    q1 = by_code(A.assess(city, A.period(YEAR, 1)))[LONGDE]
    assert q1.counts[F.notification_rate] == (1, 2)
    assert q1.counts[F.mobile_rate] == (1, 2)
    q2 = by_code(A.assess(city, A.period(YEAR, 2)))[LONGDE]
    assert q2.counts[F.notification_rate] == (0, 0) and q2.figures[F.notification_rate] is None
    assert q2.counts[F.mobile_rate] == (2, 2)
    year = by_code(A.assess(city, A.period(YEAR)))[LONGDE]
    assert year.counts[F.notification_rate] == (2, 2)
    assert year.counts[F.mobile_rate] == (2, 3)


def test_filing_timely_rate(city):
    ends = at(3, 1)  # due day: 16 March (FILING_DAYS after the end of publicity)
    listed(JINGYUAN, ends, at(3, 10))  # on time
    listed(JINGYUAN, ends, datetime(YEAR, 3, 16, 15, 0, tzinfo=UTC))  # 23:00 on the due day: on time
    listed(JINGYUAN, ends, at(3, 20))  # late
    listed(JINGYUAN, ends, None)  # never approved, due day over: late
    listed(JINGYUAN, at(3, 25), at(4, 1))  # due 9 April: Q2's
    # Approved before this round's publicity (an earlier round): does not count for this round.
    old = listed(JINGYUAN, ends, None)
    db.session.add(Review(filing_id=old.id, tier=Level.county, action=Action.approve, actor_name="县审核员",
                          at=at(1), from_state=FilingState.township_approved,
                          to_state=FilingState.county_approved, version=4))
    db.session.commit()
    q1 = by_code(A.assess(city, A.period(YEAR, 1), today=at(12).date()))[JINGYUAN]
    assert q1.counts[F.filing_timely_rate] == (2, 5)
    assert q1.figures[F.filing_timely_rate] == 0.4
    q2 = by_code(A.assess(city, A.period(YEAR, 2), today=at(12).date()))[JINGYUAN]
    assert q2.counts[F.filing_timely_rate] == (1, 1)
    # Before the due day is over, a list not approved by it is not yet due; one approved by it
    # counts already (the two on time).
    early = by_code(A.assess(city, A.period(YEAR, 1), today=at(3, 12).date()))[JINGYUAN]
    assert early.counts[F.filing_timely_rate] == (2, 2)


def test_ranks_ties_and_counties_without_data(city):
    _cases_world()
    case(LONGDE, at(4))
    db.session.commit()
    a = A.assess(city, A.period(YEAR))
    assert [(i.code, i.rank) for i in a.items] == [
        (YUANZHOU, 1), (LONGDE, 1), (PENGYANG, 3), (XIJI, None), (JINGYUAN, None)]
    assert a.items[0].score == a.items[1].score == 100.0
    # 彭阳: (0.75·25 + 0.667·20) / 45 · 100, the other figures have no data
    assert by_code(a)[PENGYANG].score == 71.31


def test_weights_change_the_ranking(city, app):
    _cases_world()
    household(YUANZHOU, at(1))  # 原州: one household of two signed in
    household(YUANZHOU, at(1), signed_in=at(1, 20))
    household(PENGYANG, at(1), signed_in=at(1, 20))
    db.session.commit()
    admin = make_user("city_admin", "6404")
    before = A.assess(city, A.period(YEAR))
    assert [(i.code, i.score) for i in before.items[:2]] == [(YUANZHOU, 87.5), (PENGYANG, 78.48)]
    with time_machine.travel(at(1, 5), tick=False):
        A.set_weights(admin, "6404", YEAR, {"completion_rate": 10, "on_time_rate": 10, "mobile_rate": 80,
                                            "notification_rate": 0, "filing_timely_rate": 0})
        db.session.commit()
    after = A.assess(city, A.period(YEAR))
    assert [(i.code, i.score) for i in after.items[:2]] == [(PENGYANG, 94.17), (YUANZHOU, 60.0)]
    assert after.scored == [F.completion_rate, F.on_time_rate, F.mobile_rate]
    # The next year without its own weights takes these; the year before keeps the defaults.
    assert A.weights_for("6404", YEAR + 1)[F.mobile_rate] == 80
    assert A.weights_for("6404", YEAR - 1) == A.DEFAULT_WEIGHTS


# --- setting the weights ----------------------------------------------------------------------

def test_set_weights_is_audited_checked_and_closed_after_the_year(city):
    admin = make_user("city_admin", "6404")
    with time_machine.travel(at(6), tick=False):
        A.set_weights(admin, None, YEAR, {"mobile_rate": 40})
        db.session.commit()
        ev = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "assessment.weights")).one()
        assert ev.region_code == "6404" and ev.object_id == f"6404:{YEAR}"
        assert A.weights_for("6404", YEAR)[F.mobile_rate] == 40
        assert A.weights_for("6404", YEAR)[F.completion_rate] == A.DEFAULT_WEIGHTS[F.completion_rate]
        for bad in ({"mobile_rate": 101}, {"mobile_rate": "x"}, {"nonsense": 5}, {"mobile_rate": True},
                    {f.value: 0 for f in F}):
            with pytest.raises(ValidationError):
                A.set_weights(admin, "6404", YEAR, bad)
            db.session.rollback()
        with pytest.raises(ValidationError):
            A.set_weights(admin, "6404", YEAR - 1, {"mobile_rate": 10})
        db.session.rollback()
        with pytest.raises(ValidationError):  # a county is not assessed here
            A.set_weights(admin, "640425", YEAR, {"mobile_rate": 10})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AssessmentWeight)) == len(F)
    assert A.weights_for("6404", YEAR)[F.mobile_rate] == 40
    with pytest.raises(PermissionDenied):
        A.set_weights(make_user("city_supervisor", "6404"), "6404", YEAR, {"mobile_rate": 10})


# --- the API, the page, the export, who may see them ------------------------------------------

def test_api_shape(city, api_as):
    _cases_world()
    c = api_as("city_supervisor", "6404")
    r = c.get(f"/api/v1/stats/assessment?region_code=6404&year={YEAR}&quarter=1")
    assert r.status_code == 200, r.json
    body = r.json
    assert set(body["weights"]) == {f.value for f in F} and sum(body["weights"].values()) == 100
    assert body["quarter"] == 1 and body["year"] == YEAR
    assert [i["region_code"] for i in body["items"]][0] == PENGYANG
    first = body["items"][0]
    assert set(first) >= {"region_code", "name", "score", "rank", "figures"}
    assert first["rank"] == 1 and first["name"] == "彭阳县" and first["figures"]["completion_rate"] == 0.75
    assert first["figures"]["mobile_rate"] is None
    assert len(body["items"]) == 5  # every county of the city, none of 中卫
    assert c.get(f"/api/v1/stats/assessment?year={YEAR}&quarter=5").status_code == 400
    assert c.get("/api/v1/stats/assessment?region_code=6405").status_code == 404
    assert c.get("/api/v1/stats/assessment?region_code=640425").status_code == 400
    assert c.put("/api/v1/stats/assessment/weights", json={"weights": {"mobile_rate": 5}}).status_code == 403


def test_api_weights_by_the_city_admin(city, api_as):
    c = api_as("city_admin", "6404")
    year = datetime.now(UTC).year + 1
    r = c.put("/api/v1/stats/assessment/weights", json={"year": year, "weights": {"mobile_rate": 0}})
    assert r.status_code == 200, r.json
    assert r.json["weights"]["mobile_rate"] == 0
    r = c.put("/api/v1/stats/assessment/weights", json={"year": year, "weights": {"mobile_rate": -1}})
    assert r.status_code == 400
    assert c.get(f"/api/v1/stats/assessment?year={year}").json["weights"]["mobile_rate"] == 0


@pytest.mark.parametrize(("role", "region"), [("county_admin", "640425"), ("supervisor", "640425"),
                                         ("county_reviewer", "640425")])
def test_county_users_are_refused(city, login_as, api_as, role, region):
    assert login_as(role, region).get("/stats/assessment").status_code == 403
    assert api_as(role, region).get("/api/v1/stats/assessment?region_code=6404").status_code == 403


def test_another_citys_users_get_404(city, login_as):
    c = login_as("city_supervisor", "6405")
    assert c.get("/stats/assessment?region_code=6404").status_code == 404
    assert c.get("/stats/assessment.xlsx?region_code=6404").status_code == 404


def test_page_shows_the_ranked_table_and_the_admin_form(city, login_as):
    _cases_world()
    page = login_as("city_supervisor", "6404").get(f"/stats/assessment?year={YEAR}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "彭阳县" in html and "75.0%" in html and "无数据" in html and "保存权重" not in html
    admin = login_as("city_admin", "6404")
    html = admin.get("/stats/assessment").get_data(as_text=True)
    assert "保存权重" in html
    r = admin.post("/stats/assessment/weights", data={"w-region_code": "6404", "w-year": str(datetime.now(UTC).year),
                                                      **{f"w-{f.value}": "20" for f in F}, "w-mobile_rate": "abc"})
    assert r.status_code == 422 and "0–100" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AssessmentWeight)) == 0
    r = admin.post("/stats/assessment/weights", data={"w-region_code": "6404", "w-year": str(datetime.now(UTC).year),
                                                      **{f"w-{f.value}": "20" for f in F}})
    assert r.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AssessmentWeight)) == len(F)


def test_export_cells(city, login_as):
    _cases_world()
    r = login_as("city_supervisor", "6404").get(f"/stats/assessment.xlsx?year={YEAR}&quarter=1")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][:4] == ["排名", "区划代码", "县（区）", "得分"]
    assert rows[0][4:7] == ["办结率（权重25）", "办结率·分子", "办结率·分母"]
    assert len(rows[0]) == 4 + 3 * len(F)
    assert rows[1][:4] == [1, PENGYANG, "彭阳县", 71.31]
    assert rows[1][4:10] == [0.75, 3, 4, 0.667, 2, 3]
    assert rows[2][0] == "不排名" and rows[2][3] == "无数据" and rows[2][4:7] == ["无数据", 0, 0]
    assert len(rows) == 6

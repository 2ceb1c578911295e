"""The supervision dashboard and /api/v1/stats/summary (issue 7, API.md), on the report's figures.

The scenario is built through the API as people would: the county admin's projects and 53
published policies, 44 village filings filed and 31 of them approved by the county. The
3,772 cases of the report (3,542 inquiries, 2,936 completed; 230 complaints, 196 completed)
are inserted set-based, as the cases area's own tests do, since filing them one by one through
the API only repeats what the cases tests prove."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from subsidy.cases.models import CaseKind, CaseState, Rating
from subsidy.demo import load_demo
from subsidy.extensions import db
from subsidy.regions.models import Level, Region
from tests.cases_support import bulk_cases, china

T0 = datetime(2017, 6, 1, 1, 0, tzinfo=UTC)
TOWNSHIPS = ("640425100", "640425101", "640425102", "640425103")


@pytest.fixture
def demo(app, db):
    load_demo(households_per_village=1, year=2017)
    db.session.commit()


def _act(client, fid, action, version, **body):
    r = client.post(f"/api/v1/filings/{fid}/actions/{action}", json={"version": version, **body})
    assert r.status_code == 200, (action, r.json)
    return r.json["version"]


def _clients(api_as, role, codes):
    return {code: api_as(role, code) for code in codes}


def build_report_county(api_as):
    """Projects, 44 filings filed, 31 county-approved, 53 policies: all through the API."""
    admin, county_rev = api_as("county_admin"), api_as("county_reviewer")
    villages = list(db.session.scalars(sa.select(Region.code).where(
        Region.level == Level.village, Region.parent_code.in_(TOWNSHIPS)).order_by(Region.code)))[:11]
    clerks = _clients(api_as, "village_clerk", villages)
    townships = _clients(api_as, "township_reviewer", sorted({v[:9] for v in villages}))
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        projects = []
        for name, unit, rate in [("耕地地力保护补贴", "mu", "105.00"), ("基础母牛养殖补贴", "household", "2000.00"),
                                 ("农村危房改造补助", "household", "20000.00"),
                                 ("草原生态补奖", "household", "500.00")]:
            r = admin.post("/api/v1/projects", json={"name": f"2017{name}", "year": 2017, "category": "cash",
                                                     "unit": unit, "rate": rate, "budget": "90000000.00",
                                                     "publicity_days": 7, "fund_source": "中央财政"})
            assert r.status_code == 201, r.json
            projects.append(r.json["id"])
        filings = []
        for pid in projects:
            for v in villages:
                r = clerks[v].post("/api/v1/filings", json={"project_id": pid, "region_code": v})
                assert r.status_code == 201, r.json
                fid = r.json["id"]
                assert clerks[v].post(f"/api/v1/filings/{fid}/entries/all").status_code == 201
                filings.append((fid, v))
    assert len(filings) == 44
    with time_machine.travel(T0, tick=False):
        versions = {fid: _act(clerks[v], fid, "publicize", 1) for fid, v in filings}
    approved = 0
    with time_machine.travel(T0 + timedelta(days=8), tick=False):
        for fid, v in filings:
            versions[fid] = _act(clerks[v], fid, "submit", versions[fid])
        for fid, v in filings[:31]:
            township = townships[v[:9]]
            for entry in township.get(f"/api/v1/filings/{fid}").json["entries"]:
                if entry["flags"]:
                    assert township.post(f"/api/v1/filings/{fid}/entries/{entry['id']}/notes",
                                         json={"note": "已入户核实"}).status_code == 201
            versions[fid] = _act(township, fid, "approve", versions[fid])
            versions[fid] = _act(county_rev, fid, "approve", versions[fid], comment="审定")
            approved += 1
        for i in range(53):
            r = admin.post("/api/v1/policies", json={"title": f"2017年惠民政策第{i + 1}号", "body": "政策正文",
                                                     "region_code": "640425"})
            assert r.status_code == 201, r.json
            assert admin.post(f"/api/v1/policies/{r.json['id']}/publish").status_code == 200
    assert approved == 31
    return {"filings": filings, "projects": projects}


REPORT = {"villages": ("villages", "105"), "filed": ("filed", "44"), "reviewed": ("reviewed", "31"),
          "policies": ("policies", "53")}


def _check_report_figures(api_as, login_as, built, with_cases: bool):
    supervisor = api_as("supervisor")
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        r = supervisor.get("/api/v1/stats/summary?region_code=640425&year=2017")
    assert r.status_code == 200, r.json
    s = r.json
    assert s["region_code"] == "640425" and s["year"] == 2017
    assert s["villages"] == 105
    assert s["filings"] == {"filed": 44, "reviewed": 31}
    assert s["policies_published"] == 53
    assert set(s) >= {"inquiries", "complaints", "objections", "sms", "mobile", "money"}
    assert set(s["sms"]) >= {"households_due", "households_notified", "notification_rate", "delivered_rate"}
    # Every household of the 31 approved filings is owed the 审定 SMS (sent by the worker later).
    assert s["sms"]["notification_rate"] == 0.0 and s["sms"]["households_due"] > 0
    assert s["mobile"] == {"households": 105, "households_signed_in": 0, "coverage_rate": 0.0}
    approved = sum(Decimal(supervisor.get(f"/api/v1/filings/{fid}").json["total_amount"])
                   for fid, _ in built["filings"][:31])
    assert s["money"] == {"approved_amount": f"{approved:.2f}", "paid_amount": "0.00"}
    if with_cases:
        assert {k: s["inquiries"][k] for k in ("received", "completed", "completion_rate")} == {
            "received": 3542, "completed": 2936, "completion_rate": 0.829}
        assert {k: s["complaints"][k] for k in ("received", "completed", "completion_rate")} == {
            "received": 230, "completed": 196, "completion_rate": 0.852}
        assert {k: s["objections"][k] for k in ("received", "completed", "completion_rate")} == {
            "received": 0, "completed": 0, "completion_rate": None}

    # The dashboard shows the same figures, from the same functions.
    web = login_as("supervisor")
    page = web.get("/dashboard?year=2017")
    assert page.status_code == 200
    html = page.text
    figures = [("villages", "105"), ("filed", "44"), ("reviewed", "31"), ("policies", "53"),
               ("approved", f"{approved:,.2f}"), ("paid", "0.00"), ("mobile_rate", "0.0%")]
    if with_cases:
        figures += [("inquiries", "3542"), ("inquiries_rate", "82.9%"), ("complaints", "230"),
                    ("complaints_rate", "85.2%")]
    for figure, value in figures:
        assert re.search(rf'data-figure="{figure}">{re.escape(value)}<', html), figure
    assert "vendor/echarts/echarts.min.js" in html and "chart-projects" in html
    # The township table, exported: its rows add up to the county.
    d = web.get("/dashboard.xlsx?year=2017")
    assert d.status_code == 200
    rows = list(load_workbook(io.BytesIO(d.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("区划", "行政村", "备案", "审核") and len(rows) == 1 + 12 + 1
    assert sum(r[1] for r in rows[1:-1]) == 105 and rows[-1][1] == 105
    assert sum(r[2] for r in rows[1:-1]) == 44 and rows[-1][2] == 44 and rows[-1][3] == 31
    assert sum(Decimal(str(r[11])) for r in rows[1:-1]) == approved
    if with_cases:
        assert sum(r[5] for r in rows[1:-1]) == 3542 and sum(r[7] for r in rows[1:-1]) == 230
    # Drill down into a township, sorted by filings.
    page = web.get("/dashboard?year=2017&region_code=640425100&sort=filed&dir=desc")
    assert page.status_code == 200 and "分行政村统计" in page.text
    return s


def test_report_figures_through_the_api_and_on_the_dashboard(api_as, login_as, demo):
    """What it must show: a scenario built through the API whose /stats/summary and dashboard
    show exactly the report's figures."""
    built = build_report_county(api_as)
    insert_report_cases()
    db.session.commit()
    s = _check_report_figures(api_as, login_as, built, with_cases=True)
    assert s["cached"] is False  # a county this small is always computed live


def insert_report_cases():
    """3,542 inquiries (2,936 completed) and 230 complaints (196 completed) received across
    2017 in the villages of the first township, set-based as the cases area's tests insert them."""
    months = [china(2017, m, 12) for m in range(3, 12)]
    villages = ["640425100201", "640425100202"]
    for i, v in enumerate(villages):
        half = lambda n, i=i: n // 2 + (n % 2 if i == 0 else 0)  # noqa: E731
        bulk_cases(CaseKind.inquiry, half(2936), region_code=v, assigned=v[:9], received=months,
                   state=CaseState.closed, reply_after_days=1, rating=Rating.satisfied)
        bulk_cases(CaseKind.inquiry, half(3542 - 2936), region_code=v, assigned=v[:9], received=months)
        bulk_cases(CaseKind.complaint, half(196), region_code=v, assigned=v[:9], received=months,
                   state=CaseState.replied, reply_after_days=2)
        bulk_cases(CaseKind.complaint, half(230 - 196), region_code=v, assigned=v[:9], received=months)


def test_summary_is_scoped_and_validated(api_as, county):
    clerk = api_as("village_clerk", "640425100201")
    assert clerk.get("/api/v1/stats/summary?region_code=640425100201&year=2017").status_code == 200
    r = clerk.get("/api/v1/stats/summary?region_code=640425&year=2017")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    assert clerk.get("/api/v1/stats/summary?region_code=640425100202").status_code == 404
    township = api_as("township_reviewer", "640425100")
    assert township.get("/api/v1/stats/summary?region_code=640425101").status_code == 404
    r = township.get("/api/v1/stats/summary?year=abc")
    assert r.status_code == 400 and "year" in r.json["error"]["fields"]
    r = township.get("/api/v1/stats/summary?year=2017")
    assert r.status_code == 200 and r.json["region_code"] == "640425100" and r.json["villages"] == 2
    assert r.json["filings"] == {"filed": 0, "reviewed": 0} and r.json["money"] == {
        "approved_amount": "0.00", "paid_amount": "0.00"}
    assert r.json["inquiries"]["completion_rate"] is None
    assert api_as("county_admin").get("/api/v1/stats/summary?region_code=640425&year=2017").json["villages"] == 4


def test_dashboard_is_scoped(login_as, county):
    web = login_as("township_reviewer", "640425100")
    assert web.get("/dashboard?region_code=640425").status_code == 404
    page = web.get("/dashboard?year=2017")
    assert page.status_code == 200 and "分行政村统计" in page.text and "白阳镇201村" in page.text
    assert "王洼镇" not in page.text


def test_slow_figures_are_kept_with_their_time_and_refreshed(app, api_as, runner, county, monkeypatch):
    """stats.cache: a computation slower than STATS_SLOW_SECONDS is served again until it is
    STATS_CACHE_SECONDS old, saying so (`cached`, `as_of`); a refresh recomputes it."""
    from subsidy.households.models import Household
    from subsidy.public.models import MobileSignIn
    from tests.factories import HouseholdFactory

    monkeypatch.setitem(app.config, "STATS_SLOW_SECONDS", 0)  # everything counts as slow here
    supervisor = api_as("supervisor")
    first = supervisor.get("/api/v1/stats/summary?year=2017").json
    assert first["cached"] is False and first["mobile"]["households"] == 0
    HouseholdFactory()
    db.session.commit()
    kept = supervisor.get("/api/v1/stats/summary?year=2017").json
    assert kept["cached"] is True and kept["as_of"] == first["as_of"] and kept["mobile"]["households"] == 0
    result = runner.invoke(args=["stats", "refresh", "--year", "2017"])
    assert result.exit_code == 0 and "refreshed 3 regions" in result.output
    fresh = supervisor.get("/api/v1/stats/summary?year=2017").json
    assert fresh["mobile"]["households"] == 1 and fresh["as_of"] != first["as_of"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MobileSignIn)) == 0
    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 0)  # kept summaries switched off: live again
    HouseholdFactory()
    db.session.commit()
    assert supervisor.get("/api/v1/stats/summary?year=2017").json["mobile"]["households"] == 2


def _province_scenario():
    """The small county plus a second county of the province (640402), with households in
    several villages, mobile sign-ins, an approved filing (its SMS owed), a household that
    moved between townships during the year (owed a message in each), cases (one about a
    township itself) and policies at each level. Time: June 2017."""
    from subsidy.cases.models import Case
    from subsidy.notify.models import MessageStatus
    from subsidy.policies.models import PolicyStatus
    from subsidy.public.models import MobileSignIn
    from tests.factories import (
        CaseFactory,
        HouseholdFactory,
        MessageFactory,
        PolicyFactory,
        ProjectFactory,
        RegionFactory,
        approved_filing,
    )

    RegionFactory(code="640402", name="原州区", level=Level.county)
    RegionFactory(code="640402100", name="南关街道", level=Level.township, parent_code="640402")
    RegionFactory(code="640402100201", name="南关201村", level=Level.village, parent_code="640402100")
    at = datetime(2017, 6, 1, 2, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        made = {v: [HouseholdFactory(region_code=v) for _ in range(n)]
                for v, n in (("640425100201", 3), ("640425100202", 1), ("640425101201", 2), ("640402100201", 2))}
        db.session.flush()
        for h in made["640425100201"][:2] + made["640402100201"][:1]:
            db.session.add(MobileSignIn(household_id=h.id))
        approved_filing("640425100201", ProjectFactory(year=2017))
        mover = made["640425100202"][0]
        MessageFactory(household_id=mover.id, region_code="640425100202", template="payment_paid",
                       status=MessageStatus.failed)
        MessageFactory(household_id=mover.id, region_code="640425101201", template="payment_paid",
                       status=MessageStatus.delivered)
        MessageFactory(household_id=made["640402100201"][0].id, region_code="640402100201",
                       template="filing_approved", status=MessageStatus.sent)
        MessageFactory(region_code="640425101201", template="broadcast", status=MessageStatus.delivered)
        for region, assigned in (("640425100201", "640425100"), ("640425101", "640425101"),
                                 ("640425101201", "640425101"), ("640402100201", "640402100")):
            CaseFactory(region_code=region, assigned_region_code=assigned, received_at=at,
                        clock_from=at, due_at=at + timedelta(days=5))
        for region in ("640425", "640425100", "640425101201", "640402"):
            PolicyFactory(county_code=region[:6], region_code=region, status=PolicyStatus.published, published_at=at)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 4
    return made


def _blocks_equal(a: dict, b: dict):
    assert {k: v for k, v in a.items() if k not in ("as_of", "cached")} == \
        {k: v for k, v in b.items() if k not in ("as_of", "cached")}


def test_grouped_figures_equal_each_region_on_its_own(app, county):
    """`stats.service.figures`: one grouped query per area gives every child row, and the
    total from those groups; each equals the region computed on its own, and the
    households of the SMS block are counted once in a total even when they had messages in
    two of its townships."""
    from subsidy.notify.numbers import sms_summary
    from subsidy.public.service import mobile_summary
    from subsidy.stats import service

    _province_scenario()
    y = 2017
    region = db.session.get(Region, "640425")
    d = service._compute_dashboard(region, y)
    assert [r.code for r in d["rows"]] == ["640425100", "640425101"]
    for row in d["rows"]:
        _blocks_equal(row.block, service._compute_summary(row.code, y))
        assert row.block["sms"] == sms_summary(row.code, y) and row.block["mobile"] == mobile_summary(row.code)
    total = d["total"].block
    _blocks_equal(total, service._compute_summary("640425", y))
    assert total["villages"] == 4 and total["mobile"] == {"households": 6, "households_signed_in": 2,
                                                         "coverage_rate": 0.333}
    # The mover is due in both townships and once in the county; 3 filing households + the mover.
    rows = {r.code: r.block for r in d["rows"]}
    assert rows["640425100"]["sms"]["households_due"] == 4 and rows["640425101"]["sms"]["households_due"] == 1
    assert total["sms"]["households_due"] == 4 and total["sms"]["households_notified"] == 1
    assert total["sms"]["messages"]["delivered"] == 2  # the broadcast counts here, not in households
    # A case about township 640425101 itself counts for the township and the county.
    assert rows["640425101"]["inquiries"]["received"] == 2 and total["inquiries"]["received"] == 3
    assert rows["640425100"]["policies_published"] == 2 and rows["640425101"]["policies_published"] == 2
    assert total["policies_published"] == 3
    assert total["filings"] == {"filed": 1, "reviewed": 1} and total["money"]["approved_amount"] != "0.00"
    # A village inside a township: the same rule one level down.
    t = service._compute_dashboard(db.session.get(Region, "640425100"), y)
    assert [r.code for r in t["rows"]] == ["640425100201", "640425100202"]
    for row in t["rows"]:
        _blocks_equal(row.block, service._compute_summary(row.code, y))


def test_refresh_keeps_every_region_and_the_province_root(app, api_as, runner, county):
    """`flask stats refresh` keeps, from one grouped pass per level, what each region computed
    live shows, the city 6404 and the province root 64 (its rows: its children are its cities,
    a city's its counties)."""
    from subsidy.stats import service

    _province_scenario()
    result = runner.invoke(args=["stats", "refresh", "--year", "2017"])
    assert result.exit_code == 0, result.output
    assert "refreshed 5 regions, the prefecture 6404 and the province root 64" in result.output, result.output
    for code in ("640425", "640425100", "640425101", "640402", "640402100"):
        kept = service.summary_of(code, 2017)
        assert kept["cached"] is True
        _blocks_equal(kept, service.summary_of(code, 2017, refresh=True))
    root = service.summary_of("64", 2017)
    assert root["cached"] is True and root["region_code"] == "64"
    assert root["villages"] == 5 and root["mobile"] == {"households": 8, "households_signed_in": 3,
                                                        "coverage_rate": 0.375}
    assert root["sms"]["households_due"] == 5 and root["sms"]["households_notified"] == 2
    assert root["inquiries"]["received"] == 4 and root["policies_published"] == 4
    _blocks_equal(root, service.summary_of("64", 2017, refresh=True))
    assert [c["region_code"] for c in root["children"]] == ["6404"]
    city = service.summary_of("6404", 2017)
    assert city["cached"] is True and [c["region_code"] for c in city["children"]] == ["640402", "640425"]
    _blocks_equal(city, service.summary_of("6404", 2017, refresh=True))
    _blocks_equal({k: v for k, v in root.items() if k not in ("region_code", "children")},
                  {k: v for k, v in city.items() if k not in ("region_code", "children")})
    board = service.dashboard_of(db.session.get(Region, "64"), 2017)
    assert board.cached and board.child_label == "市" and [r.code for r in board.rows] == ["6404"]
    board = service.dashboard_of(db.session.get(Region, "6404"), 2017)
    assert board.cached and board.child_label == "县" and [r.code for r in board.rows] == ["640402", "640425"]
    county_board = service.dashboard_of(db.session.get(Region, "640425"), 2017)
    assert county_board.cached and [r.code for r in county_board.rows] == ["640425100", "640425101"]
    live = service.dashboard_of(db.session.get(Region, "640425"), 2017, refresh=True)
    assert [r.block for r in county_board.rows] == [r.block for r in live.rows]
    assert county_board.total.own == live.total.own and county_board.projects == live.projects
    # The API serves the kept summary with its time.
    r = api_as("supervisor").get("/api/v1/stats/summary?region_code=640425&year=2017")
    assert r.status_code == 200 and r.json["cached"] is True

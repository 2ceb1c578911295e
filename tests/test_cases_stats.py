"""Completion statistics (DESIGN.md "Cases"): 3,542 inquiries with 2,936 completed and
230 complaints with 196 completed in 640425 for 2017 give 0.829 and 0.852 — from
`case_summary`, from `/api/v1/stats/summary`, from `/api/v1/cases/stats` and on the page."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from subsidy.cases import service, stats
from subsidy.cases.models import Case, CaseKind, CaseState, Rating
from subsidy.regions.models import Level
from tests.cases_support import (
    COUNTY,
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    VILLAGE_2,
    bulk_cases,
    china,
    days_of,
    record,
    workdays_in,
)
from tests.factories import RegionFactory, make_user

NOW = china(2018, 1, 2, 10)  # when the figures are read: every 2017 case received by then
V101_202 = "640425101202"
S = CaseState

EXPECTED = {
    "inquiries": {"received": 3542, "completed": 2936, "completion_rate": 0.829, "on_time_rate": 0.901,
                  "satisfaction_rate": 0.947, "overdue_open": 12},
    "complaints": {"received": 230, "completed": 196, "completion_rate": 0.852, "on_time_rate": 0.872,
                   "satisfaction_rate": 1.0, "overdue_open": 3},
    "objections": {"received": 0, "completed": 0, "completion_rate": None, "on_time_rate": None,
                   "satisfaction_rate": None, "overdue_open": 0},
}


def build_2017(db):
    """The report's year. A handful of cases go through the real service path; the rest are
    bulk inserts built the same way (see tests.cases_support.bulk_cases)."""
    township = make_user("township_reviewer", TOWNSHIP)
    county_user = make_user("county_reviewer", COUNTY)
    Inq, C = CaseKind.inquiry, CaseKind.complaint

    # Through the service: 4 valid inquiries (2 replied on time), 1 rejected; 2 complaints
    # (1 replied on time; 1 about the other township, handled by the county, still open).
    real = [record(township, at=china(2017, 3, 6 + i)) for i in range(4)]
    for case in real[:2]:
        with time_machine.travel(china(2017, 3, 9), tick=False):
            service.reply_case(township, case.id, "已答复")
    spam = record(township, at=china(2017, 3, 6))
    with time_machine.travel(china(2017, 3, 6, 11), tick=False):
        service.reject_case(township, spam.id, "骚扰电话")
    complaint = record(township, at=china(2017, 5, 8), kind="complaint")
    with time_machine.travel(china(2017, 5, 10), tick=False):
        service.reply_case(township, complaint.id, "经核查已整改", "substantiated")
    record(county_user, at=china(2017, 12, 28), kind="complaint", region_code=OTHER_TOWNSHIP)
    # The two replied inquiries stay unrated (replied); move them on like the real service
    # would not: nothing. Open real inquiries (2) were received in March: overdue by 2018 —
    # reply to one late, keep one open and overdue.
    with time_machine.travel(china(2017, 6, 1), tick=False):
        service.reply_case(township, real[2].id, "迟到的答复")  # completed late
    db.session.commit()

    spread = workdays_in(2017, 4) + workdays_in(2017, 9)
    # Inquiries: 3542 valid = 4 real + 3538 bulk; completed 2936 = 3 real + 2933 bulk.
    bulk_cases(Inq, 1000, region_code=VILLAGE, assigned=TOWNSHIP, state=S.closed, rating=Rating.very_satisfied,
               received=[china(2017, 1, 1, 7)] + spread)  # 1 Jan 07:00 China time is still 2016 in UTC
    bulk_cases(Inq, 800, region_code=VILLAGE_2, assigned=TOWNSHIP, state=S.closed, rating=Rating.satisfied,
               received=spread)
    bulk_cases(Inq, 100, region_code=OTHER_VILLAGE, assigned=OTHER_TOWNSHIP, state=S.closed,
               rating=Rating.basically_satisfied, received=spread)
    bulk_cases(Inq, 740, region_code=OTHER_VILLAGE, assigned=OTHER_TOWNSHIP, state=S.replied, received=spread)
    bulk_cases(Inq, 291, region_code=V101_202, assigned=OTHER_TOWNSHIP, state=S.replied, late=True, received=spread)
    bulk_cases(Inq, 2, region_code=V101_202, assigned=V101_202, state=S.closed, rating=Rating.very_satisfied,
               received=spread)  # a village handling 3 cases: too few to rank
    bulk_cases(Inq, 1, region_code=V101_202, assigned=V101_202, received=[china(2017, 12, 29)])
    bulk_cases(Inq, 11, region_code=VILLAGE, assigned=TOWNSHIP, received=days_of(2017, 11, 6, 10))  # overdue
    bulk_cases(Inq, 593, region_code=VILLAGE_2, assigned=TOWNSHIP,
               received=[china(2017, 12, 29), china(2017, 12, 31, 23, 30)])  # not yet due
    bulk_cases(Inq, 25, region_code=VILLAGE, assigned=TOWNSHIP, state=S.rejected, received=spread)  # invalid
    # Complaints: 230 valid = 2 real + 228 bulk; completed 196 = 1 real + 195 bulk.
    bulk_cases(C, 120, region_code=VILLAGE, assigned=TOWNSHIP, state=S.closed, rating=Rating.satisfied,
               received=spread)
    bulk_cases(C, 50, region_code=V101_202, assigned=OTHER_TOWNSHIP, state=S.replied, received=spread)
    bulk_cases(C, 25, region_code=TOWNSHIP, assigned=COUNTY, state=S.replied, late=True, received=spread)
    bulk_cases(C, 30, region_code=VILLAGE_2, assigned=TOWNSHIP, received=[china(2017, 12, 20)])
    bulk_cases(C, 3, region_code=VILLAGE_2, assigned=TOWNSHIP, received=[china(2017, 10, 9)])  # overdue
    bulk_cases(C, 5, region_code=VILLAGE, assigned=TOWNSHIP, state=S.rejected, received=spread)

    # Noise that must not count: the years around, and another county.
    bulk_cases(Inq, 40, region_code=VILLAGE, assigned=TOWNSHIP, state=S.closed, rating=Rating.dissatisfied,
               received=[china(2016, 12, 31, 23)])
    bulk_cases(Inq, 60, region_code=VILLAGE, assigned=TOWNSHIP,
               received=[china(2018, 1, 1, 0, 30)])  # 2017-12-31 16:30 UTC: 2018 in China
    RegionFactory(code="640402", name="原州区", level=Level.county)
    RegionFactory(code="640402100", name="某镇", level=Level.township, parent_code="640402")
    RegionFactory(code="640402100201", name="某村", level=Level.village, parent_code="640402100")
    bulk_cases(Inq, 50, region_code="640402100201", assigned="640402100", state=S.replied, received=spread)
    db.session.commit()


@pytest.fixture
def year_2017(county, db):
    build_2017(db)


def test_the_reports_figures_from_case_summary_the_api_and_the_page(year_2017, db, api_as, login_as):
    # The scenario is what it says (the 2016/2018 noise lies in the county too).
    valid = sa.and_(Case.region_code.startswith(COUNTY), Case.state != S.rejected)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(valid)) == 3542 + 230 + 40 + 60

    with time_machine.travel(NOW, tick=False):
        summary = stats.case_summary(COUNTY, 2017)
        client = api_as("supervisor", COUNTY)
        api_summary = client.get("/api/v1/stats/summary?region_code=640425&year=2017")
        api_cases = client.get("/api/v1/cases/stats?region_code=640425&year=2017")
        web = login_as("county_reviewer", COUNTY)
        page = web.get("/cases/stats?year=2017").get_data(as_text=True)

    for key, block in EXPECTED.items():
        assert {k: summary[key][k] for k in block} == block, key
    assert summary["inquiries"]["avg_reply_days"] is not None

    assert api_summary.status_code == 200, api_summary.json
    assert api_summary.json["inquiries"]["completion_rate"] == 0.829
    assert api_summary.json["complaints"]["completion_rate"] == 0.852
    for key, block in EXPECTED.items():
        assert {k: api_summary.json[key][k] for k in block} == block
        assert {k: api_cases.json[key][k] for k in block} == block

    assert "受理 3542 件，办结 2936 件" in page and "受理 230 件，办结 196 件" in page
    assert "82.9%" in page and "85.2%" in page
    assert "样本过少，不排名" in page  # the village with 3 cases


def test_by_handling_unit_ranks_too_few_and_sorting(year_2017):
    with time_machine.travel(NOW, tick=False):
        rows = {r.code: r for r in stats.unit_table(COUNTY, 2017, kind=CaseKind.inquiry)}
    assert set(rows) == {TOWNSHIP, OTHER_TOWNSHIP, V101_202}
    small = rows[V101_202]
    assert small.too_few and small.rank is None and small.figures["received"] == 3
    assert small.figures["completed"] == 2 and small.figures["completion_rate"] == 0.667
    t100, t101 = rows[TOWNSHIP].figures, rows[OTHER_TOWNSHIP].figures
    assert t100["received"] == 1800 + 11 + 593 + 4 and t100["completed"] == 1800 + 3
    assert t101["received"] == 100 + 740 + 291 and t101["completion_rate"] == 1.0
    assert t101["on_time_rate"] == round(840 / 1131, 3)
    assert (rows[OTHER_TOWNSHIP].rank, rows[TOWNSHIP].rank) == (1, 2)
    # The county handles the complaints about a township.
    complaints = {r.code: r for r in stats.unit_table(COUNTY, 2017, kind=CaseKind.complaint)}
    assert complaints[COUNTY].figures["received"] == 26 and complaints[COUNTY].figures["completed"] == 25

    # Sorting keeps missing values last, whichever the direction.
    with time_machine.travel(NOW, tick=False):
        rows = stats.unit_table(COUNTY, 2017, sort="satisfaction_rate", descending=True)
        asc = stats.unit_table(COUNTY, 2017, sort="received", descending=False)
    rates = [r.figures["satisfaction_rate"] for r in rows]
    present = [r for r in rates if r is not None]
    assert present == sorted(present, reverse=True) and rates[len(present):] == [None] * (len(rates) - len(present))
    assert [r.figures["received"] for r in asc] == sorted(r.figures["received"] for r in asc)

    # The grouped summaries (one GROUP BY for all townships) equal the single ones.
    with time_machine.travel(NOW, tick=False):
        grouped = stats.case_summaries(COUNTY, 2017, 9)
        for code in (TOWNSHIP, OTHER_TOWNSHIP):
            assert grouped[code] == stats.case_summary(code, 2017)


def test_a_township_sees_its_own_units_only(year_2017, login_as):
    with time_machine.travel(NOW, tick=False):
        web = login_as("township_reviewer", TOWNSHIP)
        page = web.get("/cases/stats?year=2017").get_data(as_text=True)
        other = web.get(f"/cases/stats?year=2017&region_code={OTHER_TOWNSHIP}")
        clerk = login_as("village_clerk", VILLAGE).get("/cases/stats?year=2017")
    assert "白阳镇" in page and "王洼镇" not in page
    assert other.status_code == 404
    assert clerk.status_code == 403


def test_export_to_xlsx(year_2017, login_as):
    with time_machine.travel(NOW, tick=False):
        web = login_as("county_reviewer", COUNTY)
        resp = web.get("/cases/stats.xlsx?year=2017")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:6] == ("类别", "承办单位", "单位代码", "受理（有效）", "办结", "办结率")
    inquiries = {r[2]: r for r in rows[1:] if r[0] == "咨询"}
    assert inquiries[V101_202][10].startswith("样本不足")
    assert inquiries[TOWNSHIP][3] == 2408 and inquiries[TOWNSHIP][4] == 1803
    totals = [r for r in rows[1:] if r[0] == "全部诉求"]
    assert sum(r[3] for r in totals) == 3542 + 230


def test_rates_are_none_without_a_denominator_and_round_half_up():
    assert stats.rate(0, 0) is None
    assert stats.rate(2936, 3542) == 0.829
    assert stats.rate(196, 230) == 0.852
    assert stats.rate(1, 8) == 0.125 and stats.rate(5, 8000) == 0.001  # 0.000625 → 0.001

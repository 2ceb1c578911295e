"""The city's statistics (docs/design.md "The city tier"): `/stats/summary?region_code=6404` and the
dashboard of 固原市 on the demo city.

The additivity test walks the JSON of the city and of its `children` generally, so that a
block added later is covered: every count and amount of the city is the sum of its counties',
except what is not additive by definition, which must meet its own exact identity:

- rates are recomputed, never summed: rate = numerator / denominator of the city's own (summed)
  figures where both are in the block; on_time_rate from its counties' numerators (recovered
  from each county's rate × its completed, exact below 1,000 cases); any other rate and an
  average (avg_reply_days) lies between its counties' smallest and largest;
- policies_published: a policy written for the city (or above it) applies to the city once and
  to each county once: city = Σ counties − (n − 1) × those policies;
- sms.households_due / households_notified: a household with messages in several counties in
  the year (a household moved between counties) is one household of the city:
  city = Σ counties − Σ over households (counties it had such messages in − 1).

Besides the demo's own figures, the test plants a filing, cases, a mobile sign-in in 原州区
and a household with messages in two counties, so that the sums add at least two non-zero
counties today; cross-county moves, city-wide policies and city-handled cases added to the demo
later are checked by the same identities.
"""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import pytest
import sqlalchemy as sa

from subsidy.common.timeutil import local_today, utcnow
from subsidy.extensions import db
from subsidy.regions.models import Region

CITY = "6404"
COUNTIES = ["640402", "640422", "640423", "640424", "640425"]
OTHER = "640402100201"  # a village of 原州区 in the demo
SKIP = ("region_code", "name", "year", "children", "as_of", "cached")
RATE_PARTS = {  # rate: (numerator, denominator) as paths in the same block
    "completion_rate": (("completed",), ("received",)),
    "notification_rate": (("households_notified",), ("households_due",)),
    "coverage_rate": (("households_signed_in",), ("households",)),
    "distribution_rate": (("entries_done",), ("entries_due",)),
    "delivered_rate": (("messages", "delivered"), (("messages", "sent"), ("messages", "delivered"),
                                                   ("messages", "undelivered"))),
}
RECOVERED_RATES = {"on_time_rate": "completed"}  # numerators recovered from each county's rate


@pytest.fixture
def city(app, db, county):
    """The demo city (over `county`, which the login fixtures build first), and in 原州区: an
    approved filing (its approval messages owed), two cases received this year, a mobile
    sign-in; a 彭阳县 household signed in and owed messages in both counties."""
    from subsidy.cases.models import CaseKind
    from subsidy.demo import load_demo
    from subsidy.households.models import Household
    from subsidy.notify.models import MessageStatus
    from subsidy.public.models import MobileSignIn
    from tests.factories import CaseFactory, MessageFactory, ProjectFactory, approved_filing

    load_demo(households_per_village=3)
    db.session.commit()
    year = local_today().year
    approved_filing(OTHER, ProjectFactory(county_code="640402", year=year))
    now = utcnow() - timedelta(hours=1)
    for kind in (CaseKind.inquiry, CaseKind.complaint):
        CaseFactory(kind=kind, region_code=OTHER, assigned_region_code=OTHER[:9], received_at=now, clock_from=now,
                    due_at=now + timedelta(days=3))
    # households not yet signed in (the demo's county stories sign some in)
    fresh = ~sa.exists().where(MobileSignIn.household_id == Household.id)
    local = db.session.scalar(sa.select(Household).where(Household.region_code == OTHER, fresh).limit(1))
    mover = db.session.scalar(sa.select(Household).where(Household.region_code.like("640425%"), fresh).limit(1))
    db.session.add_all([MobileSignIn(household_id=local.id), MobileSignIn(household_id=mover.id)])
    for region in (mover.region_code, OTHER):
        MessageFactory(household_id=mover.id, region_code=region, template="payment_paid",
                       status=MessageStatus.delivered)
    db.session.commit()
    return year


# --- the general walk ------------------------------------------------------------------------

def _number(v):
    """An int, or a Decimal for an amount or quantity given as a string; None otherwise."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return Decimal(v)
        except InvalidOperation:
            return None
    return None


def _at(block: dict, path) -> object:
    for key in path:
        block = block[key]
    return block


def _part(block: dict, spec) -> Decimal:
    if spec and isinstance(spec[0], tuple):  # a sum of several paths
        return sum(Decimal(_at(block, p)) for p in spec)
    return Decimal(_at(block, spec))


def _close(value, num, den, where):
    if not den:
        assert value is None, where
    else:
        assert value is not None and abs(Decimal(str(value)) - Decimal(num) / Decimal(den)) <= Decimal("0.0005"), \
            (where, value, num, den)


def _between(value, values, where):
    present = [v for v in values if v is not None]
    if not present:
        assert value is None, (where, value)
    else:
        assert value is not None and min(present) - 1e-9 <= value <= max(present) + 1e-9, (where, value, values)


class Walk:
    """Compares a city's block with its counties' blocks, key by key; `corrections` maps a
    path to what the sum over counties exceeds the city's value by (D7's identities)."""

    def __init__(self, corrections: dict):
        self.corrections = corrections
        self.summed: dict[tuple, int] = {}  # path -> counties with a non-zero value

    def block(self, city: dict, counties: list[dict], path=()):
        assert all(set(c) - set(SKIP) == set(city) - set(SKIP) for c in counties), path
        for key, value in city.items():
            where = path + (key,)
            if key in SKIP:
                continue
            values = [c[key] for c in counties]
            if isinstance(value, dict):
                self.block(value, values, where)
            elif isinstance(value, list):
                self.items(value, values, where)
            elif key in RATE_PARTS:
                num, den = RATE_PARTS[key]
                _close(value, _part(city, num), _part(city, den), where)
            elif key in RECOVERED_RATES:
                den_key = RECOVERED_RATES[key]
                assert all(c[den_key] < 1000 for c in counties), where
                num = sum(round(c[key] * c[den_key]) for c in counties if c[key] is not None)
                _close(value, num, city[den_key], where)
            elif key.endswith("_rate") or isinstance(value, float) or value is None:
                _between(value, values, where)  # a ratio or an average without its parts
            else:
                self.leaf(value, values, where)

    def leaf(self, value, values, where):
        n = _number(value)
        if n is None:  # a name, an item, a unit: the same in the city and its counties
            assert all(v == value for v in values), (where, value, values)
            return
        total = sum(_number(v) for v in values)
        assert n == total - self.corrections.get(where, 0), (where, value, values, self.corrections.get(where))
        self.summed[where] = sum(1 for v in values if _number(v))

    def items(self, city: list, counties: list[list], where):
        """A list of rows keyed by project (a county's own projects): the city's rows are the
        counties' rows, each compared with the counties that have it."""
        by_id: dict[object, list[dict]] = {}
        for rows in counties:
            for row in rows:
                assert "project_id" in row, (where, row)  # teach this test how a new list adds up
                by_id.setdefault(row["project_id"], []).append(row)
        assert sorted(r["project_id"] for r in city) == sorted(by_id), where
        for row in city:
            self.block(row, by_id[row["project_id"]], where + (row["project_id"],))


def _corrections(year: int) -> dict:
    """What Σ counties exceeds the city by, for D7's non-additive counts, from the rows."""
    from subsidy.notify.models import Message, MessageStatus
    from subsidy.notify.numbers import NOT_OWED_TEMPLATES, year_bounds
    from subsidy.policies.models import Policy, PolicyStatus
    from subsidy.policies.service import _year_bounds
    from subsidy.regions.scope import ancestors, within

    start, end = _year_bounds(year)
    above = db.session.scalar(sa.select(sa.func.count()).select_from(Policy).where(
        Policy.region_code.in_([*ancestors(CITY), CITY]), Policy.published_at >= start, Policy.published_at < end,
        Policy.status.in_([PolicyStatus.published, PolicyStatus.withdrawn])))
    start, end = year_bounds(year)
    owed = sa.and_(Message.template.not_in(NOT_OWED_TEMPLATES), Message.household_id.is_not(None),
                   within(Message.region_code, CITY), Message.created_at >= start, Message.created_at < end)
    county = sa.func.substr(Message.region_code, 1, 6)

    def extra(condition) -> int:
        per = (sa.select(Message.household_id, sa.func.count(sa.distinct(county)).label("n"))
               .where(condition).group_by(Message.household_id).subquery())
        return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(per.c.n - 1), 0))))

    return {("policies_published",): (len(COUNTIES) - 1) * above,
            ("sms", "households_due"): extra(owed),
            ("sms", "households_notified"): extra(sa.and_(owed, Message.status.in_(
                (MessageStatus.sent, MessageStatus.delivered))))}


# --- the tests -------------------------------------------------------------------------------

def test_the_city_adds_up_to_its_counties(city, api_as):
    year = city
    r = api_as("city_supervisor", CITY).get(f"/api/v1/stats/summary?region_code={CITY}&year={year}")
    assert r.status_code == 200
    s = r.json
    assert s["region_code"] == CITY and [c["region_code"] for c in s["children"]] == COUNTIES
    names = {c["region_code"]: c["name"] for c in s["children"]}
    assert names == {code: db.session.get(Region, code).name for code in COUNTIES}
    corrections = _corrections(year)
    assert corrections[("sms", "households_due")] >= 1  # the planted household, in two counties
    walk = Walk(corrections)
    walk.block(s, s["children"])
    # meaningful: each of these added at least two non-zero counties
    for path in [("villages",), ("filings", "filed"), ("filings", "reviewed"), ("money", "approved_amount"),
                 ("inquiries", "received"), ("complaints", "received"), ("sms", "households_due"),
                 ("sms", "messages", "delivered"), ("mobile", "households"), ("mobile", "households_signed_in")]:
        assert walk.summed[path] >= 2, (path, walk.summed[path])
    # every leaf of every block was looked at
    assert {("supervision", "held"), ("materials", "entries_due"), ("objections", "overdue_open")} <= set(walk.summed)
    # a county's answer keeps its shape: no children
    county = api_as("supervisor", "640425").get(f"/api/v1/stats/summary?region_code=640425&year={year}").json
    assert "children" not in county
    assert {k: v for k, v in county.items() if k not in ("as_of", "cached")} == \
        {k: v for k, v in s["children"][-1].items() if k != "name"} | {"region_code": "640425"}


def test_the_city_is_kept_as_computed_live(city, runner):
    from subsidy.stats import service

    year = city
    result = runner.invoke(args=["stats", "refresh", "--year", str(year)])
    assert result.exit_code == 0 and "the prefecture 6404 and the province root 64" in result.output, result.output
    kept, live = service.summary_of(CITY, year), service.summary_of(CITY, year, refresh=True)
    assert kept["cached"] is True and live["cached"] is False
    assert {k: v for k, v in kept.items() if k not in ("as_of", "cached")} == \
        {k: v for k, v in live.items() if k not in ("as_of", "cached")}
    region = db.session.get(Region, CITY)
    board, fresh = service.dashboard_of(region, year), service.dashboard_of(region, year, refresh=True)
    assert board.cached and not fresh.cached and board.child_label == "县"
    assert [r.code for r in board.rows] == COUNTIES
    assert [r.block for r in board.rows] == [r.block for r in fresh.rows] and board.total.block == fresh.total.block
    assert board.total.own == fresh.total.own and board.projects == fresh.projects
    assert board.goods == fresh.goods and board.stores == fresh.stores
    # the province root lists its city
    assert [c["region_code"] for c in service.summary_of("64", year)["children"]] == [CITY]


@pytest.mark.parametrize("role", ["city_admin", "city_supervisor"])
def test_a_city_user_reads_the_city_dashboard_and_drills_down(city, login_as, role):
    year = city
    c = login_as(role, CITY)
    home = c.get("/home").get_data(as_text=True)
    assert "登记农户" in home and "补贴项目" in home  # the city's overview tiles
    page = c.get(f"/dashboard?region_code={CITY}&year={year}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "固原市" in html and "分县统计" in html
    for code in COUNTIES:
        link = f"/dashboard?region_code={code}&amp;year={year}"
        assert link in html, code
        drill = c.get(f"/dashboard?region_code={code}&year={year}")
        assert drill.status_code == 200 and db.session.get(Region, code).name in drill.get_data(as_text=True)
    # the back link of a county leads up to the city, not further
    county = c.get(f"/dashboard?region_code=640402&year={year}").get_data(as_text=True)
    assert f'href="/dashboard?region_code={CITY}&amp;year={year}" id="up"' in county
    assert 'id="up"' not in html
    # the budget table names each project's county
    assert "<td>原州区</td>" in html and "<td>彭阳县</td>" in html


def test_the_city_export_has_a_row_per_county_and_the_total(city, login_as):
    from openpyxl import load_workbook

    year = city
    r = login_as("city_admin", CITY).get(f"/dashboard.xlsx?region_code={CITY}&year={year}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    names = [row[0] for row in rows[1:]]
    assert names == ["原州区", "西吉县", "隆德县", "泾源县", "彭阳县", "合计：固原市"]
    filed = rows[0].index("备案")
    assert rows[-1][filed] == sum(row[filed] for row in rows[1:-1]) > 0


def test_a_county_user_gets_no_city_and_no_other_county(city, login_as, api_as):
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    year = city
    for role in ("supervisor", "county_admin"):
        c = login_as(role, "640402")
        for code in (CITY, "640425", "64"):
            assert c.get(f"/dashboard?region_code={code}&year={year}").status_code == 404, (role, code)
            assert c.get(f"/dashboard.xlsx?region_code={code}&year={year}").status_code == 404, (role, code)
        assert c.get(f"/dashboard?region_code=640402&year={year}").status_code == 200
    api = api_as("supervisor", "640402")
    assert api.get(f"/api/v1/stats/summary?region_code={CITY}").status_code == 404
    assert api.get("/api/v1/stats/summary?region_code=640425").status_code == 404
    # a city user is held to their city
    RegionFactory(code="6405", name="中卫市", level=Level.prefecture, parent_code="64")
    db.session.commit()
    other = login_as("city_supervisor", "6405")
    assert other.get(f"/dashboard?region_code={CITY}").status_code == 404
    assert other.get("/dashboard?region_code=640425").status_code == 404

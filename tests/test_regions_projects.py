"""Regions, jurisdiction ranges, projects, and the demo county."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.errors import ValidationError
from subsidy.households.models import Household
from subsidy.policies.models import Policy, PolicyStatus
from subsidy.projects.models import Project
from subsidy.regions.models import Region
from subsidy.regions.scope import code_range, covers, normalize_code, within


@pytest.mark.parametrize(("raw", "expected"), [("640425", "640425"), ("640425000000", "640425"),
                                          ("640425101000", "640425101"), ("640425101201", "640425101201"),
                                          (" 640425101 ", "640425101")])
def test_normalize_code(raw, expected):
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["", "64042", "6404251", "abcdefghijkl", "6404251012011"])
def test_normalize_code_refuses_malformed(raw):
    with pytest.raises(ValidationError):
        normalize_code(raw)


def test_scope_range_is_exactly_the_prefix(county, db):
    assert code_range("640425101") == ("640425101", "640425101999")
    codes = set(db.session.scalars(sa.select(Region.code).where(within(Region.code, "640425101"))))
    assert codes == {"640425101", "640425101201", "640425101202"}
    assert covers("640425", "640425101201") and not covers("640425100", "640425101201")


@pytest.mark.parametrize(("role", "region", "visible", "hidden"), [
    ("village_clerk", "640425100201", ["640425100201", "640425100", "640425"], ["640425100202", "640425101"]),
    ("township_reviewer", "640425100", ["640425100", "640425100202", "640425"], ["640425101", "640425101201"]),
    ("county_reviewer", "640425", ["640425", "640425101201"], []),
    ("supervisor", "640425101", ["640425101201"], ["640425100201"]),
])
def test_region_api_is_scoped(api_as, role, region, visible, hidden):
    c = api_as(role, region)
    for code in visible:
        assert c.get(f"/api/v1/regions/{code}").status_code == 200, code
    for code in hidden:
        assert c.get(f"/api/v1/regions/{code}").status_code == 404, code


def test_region_api_shape(api_as):
    body = api_as("county_admin").get("/api/v1/regions/640425").json
    assert body["code"] == "640425" and body["level"] == "county" and body["parent_code"] is None
    assert [c["code"] for c in body["children"]] == ["640425100", "640425101"]
    assert body["children"][0] == {"code": "640425100", "name": "白阳镇", "level": "township"}


PROJECT = {"name": "耕地地力保护补贴", "year": 2017, "category": "cash", "unit": "mu", "rate": "105.00",
           "budget": "3000000.00", "publicity_days": 7, "fund_source": "中央财政"}


def test_county_admin_creates_project(api_as, db):
    resp = api_as("county_admin").post("/api/v1/projects", json=PROJECT)
    assert resp.status_code == 201, resp.json
    assert resp.json["rate"] == "105.00" and resp.json["budget"] == "3000000.00" and resp.json["unit"] == "mu"
    project = db.session.get(Project, resp.json["id"])
    assert project.county_code == "640425" and str(project.rate) == "105.00"


@pytest.mark.parametrize(("field", "value"), [("rate", "0"), ("rate", "1.234"), ("rate", "abc"), ("unit", "acre"),
                                         ("category", "loan"), ("publicity_days", 0), ("year", 1999)])
def test_project_validation(api_as, field, value):
    resp = api_as("county_admin").post("/api/v1/projects", json={**PROJECT, field: value})
    assert resp.status_code == 400 and field in resp.json["error"]["fields"], resp.json


def test_duplicate_project_is_409(api_as):
    c = api_as("county_admin")
    assert c.post("/api/v1/projects", json=PROJECT).status_code == 201
    assert c.post("/api/v1/projects", json=PROJECT).status_code == 409


@pytest.mark.parametrize("role", ["village_clerk", "township_reviewer", "county_reviewer", "supervisor"])
def test_only_county_admin_defines_projects(api_as, role):
    c = api_as(role)
    assert c.post("/api/v1/projects", json=PROJECT).status_code == 403
    assert c.get("/api/v1/projects").status_code == 200


def test_project_pages(login_as, db):
    admin = login_as("county_admin")
    resp = admin.post("/projects/new", data={**PROJECT, "budget": "100", "rate": "-1"})
    assert resp.status_code == 422 and "补贴标准" in resp.get_data(as_text=True)
    resp = admin.post("/projects/new", data=PROJECT)
    assert resp.status_code == 302
    assert "耕地地力保护补贴" in admin.get("/projects/").get_data(as_text=True)


def test_demo_load_builds_the_county_once(runner, db):
    result = runner.invoke(args=["demo", "load", "--households-per-village", "3"])
    assert result.exit_code == 0, result.output
    villages = db.session.scalar(sa.select(sa.func.count()).select_from(Region).where(
        Region.level == "village", within(Region.code, "640425")))
    townships = db.session.scalars(sa.select(Region.name).where(
        Region.level == "township", within(Region.code, "640425"))).all()
    assert villages == 105 and len(townships) == 12 and "草庙乡" in townships
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(t))
              for t in (Region, Household, Project, Policy)]
    # the city's four small counties too; 彭阳县's two policies and the city's own
    assert counts[1] >= 3 * (105 + 4 * 6) - 5 and counts[3] == 3
    result = runner.invoke(args=["demo", "load", "--households-per-village", "3"])
    assert result.exit_code == 0
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (Region, Household, Project, Policy)] == counts
    assert set(db.session.scalars(sa.select(Policy.status))) == {PolicyStatus.published}
    # every demo ID number passes the GB 11643 checksum
    from stdnum.cn import ric

    assert all(ric.is_valid(n) for n in db.session.scalars(sa.select(Household.id_number)))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0


def test_demo_logins_work(runner, app, db):
    runner.invoke(args=["demo", "load", "--households-per-village", "1"])
    from subsidy.demo import DEMO_PASSWORD, DEMO_USERS

    for username, *_ in DEMO_USERS:
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302, username
        assert c.get("/home").status_code == 200


@pytest.mark.parametrize("role", ["village_clerk", "township_reviewer", "county_reviewer", "county_admin",
                                  "supervisor"])
def test_staff_pages_render_for_every_role(login_as, role):
    c = login_as(role)
    for url in ["/home", "/regions/", "/projects/", "/households/"]:
        assert c.get(url).status_code == 200, url
    assert c.get("/audit/").status_code == (200 if role in ("county_admin", "supervisor") else 403)

"""The city's subsidy catalogue (docs/design.md "Subsidy catalogue"): the city admin keeps it,
every staff role of the city reads it, a county's project names one of its own city's types
with the same unit, and every write is audited."""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.catalogue.models import SubsidyType
from subsidy.extensions import db
from subsidy.projects.models import Project
from tests.factories import RegionFactory, make_city

LAND = {"code": "gengdi_baohu", "name": "耕地地力保护补贴", "unit": "mu"}
PROJECT = {"name": "耕地地力保护补贴", "year": 2024, "category": "cash", "unit": "mu", "rate": "105.00",
           "budget": "10000.00"}


@pytest.fixture
def city(db, county):
    return make_city()


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _add(api_as, body=LAND, region="6404"):
    resp = api_as("city_admin", region).post("/api/v1/subsidy-types", json=body)
    assert resp.status_code == 201, resp.json
    return resp.json


# -- the catalogue --------------------------------------------------------------------------------
def test_the_city_admin_adds_a_type_and_it_is_audited(city, api_as):
    body = _add(api_as)
    assert {k: body[k] for k in ("prefecture_code", "code", "name", "unit")} == {"prefecture_code": "6404", **LAND}
    [event] = _events("subsidy_type.create")
    assert (event.object_type, event.object_id, event.region_code) == ("subsidy_type", str(body["id"]), "6404")
    assert json.loads(event.detail) == LAND


@pytest.mark.parametrize(("role", "region"), [
    ("county_admin", "640425"), ("village_clerk", "640425100201"), ("supervisor", "640425"),
    ("county_admin", "640402"), ("city_supervisor", "6404"), ("city_admin", "6404")])
def test_every_staff_role_of_the_city_reads_the_catalogue(city, api_as, role, region):
    _add(api_as)
    _add(api_as, {"code": "zhongning_gouqi", "name": "枸杞种植补贴", "unit": "mu"}, region="6405")
    c = api_as(role, region)
    items = c.get("/api/v1/subsidy-types").json["items"]
    assert [(t["prefecture_code"], t["code"]) for t in items] == [("6404", "gengdi_baohu")]
    assert c.get(f"/api/v1/subsidy-types/{items[0]['id']}").status_code == 200


def test_another_city_neither_sees_nor_edits_the_catalogue(city, api_as):
    mine = _add(api_as)
    for role, region in (("county_admin", "640502"), ("city_admin", "6405")):
        c = api_as(role, region)
        assert c.get("/api/v1/subsidy-types").json["items"] == []
        assert c.get(f"/api/v1/subsidy-types/{mine['id']}").status_code == 404
    other_admin = api_as("city_admin", "6405")
    resp = other_admin.patch(f"/api/v1/subsidy-types/{mine['id']}", json={"name": "改名", "unit": "mu"})
    assert resp.status_code == 404
    assert db.session.get(SubsidyType, mine["id"]).name == "耕地地力保护补贴"


@pytest.mark.parametrize(("role", "region"), [
    ("county_admin", "640425"), ("city_supervisor", "6404"), ("supervisor", "640425"),
    ("village_clerk", "640425100201")])
def test_only_the_city_admin_writes_the_catalogue(city, api_as, role, region):
    mine = _add(api_as)
    c = api_as(role, region)
    assert c.post("/api/v1/subsidy-types", json={**LAND, "code": "other"}).status_code == 403
    assert c.patch(f"/api/v1/subsidy-types/{mine['id']}", json={"name": "改名", "unit": "mu"}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubsidyType)) == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({**LAND, "code": "Gengdi"}, 400, "code"),
    ({**LAND, "code": "x"}, 400, "code"),
    ({**LAND, "unit": "acre"}, 400, "unit"),
    ({**LAND, "name": " "}, 400, "name"),
    ({**LAND, "name": "其他名称"}, 409, "code"),     # the code is taken
    ({**LAND, "code": "gengdi2"}, 409, "name"),      # the name is taken
])
def test_bad_or_duplicate_input_is_refused_and_changes_nothing(city, api_as, body, status, field):
    _add(api_as)
    resp = api_as("city_admin").post("/api/v1/subsidy-types", json=body)
    assert resp.status_code == status, resp.json
    assert field in resp.json["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SubsidyType)) == 1
    assert len(_events("subsidy_type.create")) == 1


def test_a_type_is_renamed_but_its_unit_is_kept_once_a_project_names_it(city, api_as):
    mine = _add(api_as)
    admin = api_as("city_admin")
    renamed = "耕地地力保护补贴（2024）"
    resp = admin.patch(f"/api/v1/subsidy-types/{mine['id']}", json={"name": renamed, "unit": "mu"})
    assert resp.status_code == 200 and resp.json["name"] == renamed
    [event] = _events("subsidy_type.update")
    assert json.loads(event.detail) == {"before": {"name": "耕地地力保护补贴"}, "after": {"name": renamed}}
    project = api_as("county_admin").post("/api/v1/projects", json={**PROJECT, "subsidy_type": "gengdi_baohu"})
    assert project.status_code == 201
    resp = admin.patch(f"/api/v1/subsidy-types/{mine['id']}", json={"name": "耕地地力保护补贴", "unit": "household"})
    assert resp.status_code == 409 and "不能修改补贴单位" in resp.json["error"]["message"]
    assert db.session.get(SubsidyType, mine["id"]).unit.value == "mu"


# -- projects name their type ---------------------------------------------------------------------
def test_a_project_names_a_type_of_its_city_and_answers_with_it(city, api_as):
    _add(api_as)
    c = api_as("county_admin")
    resp = c.post("/api/v1/projects", json={**PROJECT, "subsidy_type": "gengdi_baohu"})
    assert resp.status_code == 201, resp.json
    assert resp.json["subsidy_type"] == "gengdi_baohu"
    assert c.get(f"/api/v1/projects/{resp.json['id']}").json["subsidy_type"] == "gengdi_baohu"
    [event] = _events("project.create")
    assert json.loads(event.detail)["subsidy_type_id"] == db.session.get(Project, resp.json["id"]).subsidy_type_id
    # another county of the city, the same type: the projects can be compared
    other = api_as("county_admin", "640402").post("/api/v1/projects", json={**PROJECT, "subsidy_type": "gengdi_baohu"})
    assert other.status_code == 201
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Project.subsidy_type_id)))) == 1


def test_a_type_of_another_unit_is_refused_with_a_clear_message(city, api_as):
    _add(api_as)
    resp = api_as("county_admin").post("/api/v1/projects", json={**PROJECT, "unit": "household",
                                                                  "subsidy_type": "gengdi_baohu"})
    assert resp.status_code == 400
    assert resp.json["error"]["message"] == "补贴类型“耕地地力保护补贴”按亩补贴，项目的补贴单位须与之相同"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0


def test_a_county_of_another_city_cannot_use_the_catalogue(city, api_as):
    _add(api_as)
    c = api_as("county_admin", "640502")
    resp = c.post("/api/v1/projects", json={**PROJECT, "subsidy_type": "gengdi_baohu"})
    assert resp.status_code == 400
    assert resp.json["error"]["fields"]["subsidy_type"] == "请从本市补贴目录中选择补贴类型"
    # its own city's type of the same code is its own
    _add(api_as, region="6405")
    resp = c.post("/api/v1/projects", json={**PROJECT, "subsidy_type": "gengdi_baohu"})
    assert resp.status_code == 201
    project = db.session.get(Project, resp.json["id"])
    assert project.catalogue_type.prefecture_code == "6405"


def test_a_county_without_a_city_has_no_catalogue_and_its_projects_still_work(city, api_as):
    _add(api_as)
    RegionFactory(code="650102", name="天山区", level="county")
    db.session.commit()
    c = api_as("county_admin", "650102")
    assert c.get("/api/v1/subsidy-types").json["items"] == []
    resp = c.post("/api/v1/projects", json=PROJECT)
    assert resp.status_code == 201 and resp.json["subsidy_type"] is None
    resp = c.post("/api/v1/projects", json={**PROJECT, "name": "另一个", "subsidy_type": "gengdi_baohu"})
    assert resp.status_code == 400


# -- pages -----------------------------------------------------------------------------------------
def test_the_project_form_offers_the_citys_types(city, api_as, login_as):
    _add(api_as)
    _add(api_as, {"code": "zhongning_gouqi", "name": "枸杞种植补贴", "unit": "mu"}, region="6405")
    c = login_as("county_admin")
    html = c.get("/projects/new").get_data(as_text=True)
    assert "耕地地力保护补贴（按亩）" in html and "枸杞种植补贴" not in html
    form = {**PROJECT, "publicity_days": 7, "fund_source": "", "subsidy_type": "gengdi_baohu", "unit": "head"}
    resp = c.post("/projects/new", data=form)
    assert resp.status_code == 422 and "须与之相同" in resp.get_data(as_text=True)
    resp = c.post("/projects/new", data={**form, "unit": "mu"})
    assert resp.status_code == 302
    project = db.session.scalar(sa.select(Project))
    assert project.subsidy_type == "gengdi_baohu"
    assert "耕地地力保护补贴" in c.get("/projects/").get_data(as_text=True)
    # edited without touching the type: it stays
    html = c.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    option = re.search(r'<option[^>]*value="gengdi_baohu"[^>]*>', html).group(0)
    assert "selected" in option


def test_a_county_without_a_catalogue_sees_no_type_field(county, login_as):
    html = login_as("county_admin").get("/projects/new").get_data(as_text=True)
    assert 'name="subsidy_type"' not in html


def test_the_catalogue_page_reads_for_all_and_writes_for_the_city_admin(city, login_as):
    admin = login_as("city_admin")
    assert "补贴目录" in admin.get("/home").get_data(as_text=True)
    resp = admin.post("/subsidy-types/new", data={"code": "jichu_muniu", "name": "基础母牛养殖补贴", "unit": "head"})
    assert resp.status_code == 302
    row = db.session.scalar(sa.select(SubsidyType))
    assert (row.prefecture_code, row.code, row.unit.value) == ("6404", "jichu_muniu", "head")
    resp = admin.post("/subsidy-types/new", data={"code": "BAD", "name": "别的", "unit": "head"})
    assert resp.status_code == 422 and "类型代码应为" in resp.get_data(as_text=True)
    resp = admin.post(f"/subsidy-types/{row.id}/edit", data={"name": "能繁母牛补贴", "unit": "head"})
    assert resp.status_code == 302 and db.session.get(SubsidyType, row.id).name == "能繁母牛补贴"
    clerk = login_as("village_clerk")
    html = clerk.get("/subsidy-types/").get_data(as_text=True)
    assert "能繁母牛补贴" in html and "新增补贴类型" not in html
    assert clerk.get("/subsidy-types/new").status_code == 403
    assert login_as("county_admin").post(f"/subsidy-types/{row.id}/edit",
                                         data={"name": "改", "unit": "head"}).status_code == 403

"""City-wide policies (docs/design.md "Farmers' mobile pages"): the city admin writes them for
6404; every county's farmer pages show them; county staff read the published ones but cannot
change them, nor see the city's drafts; the statistics count one once for the city (and once in
each county, as a county-wide one counts in each township)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.common.timeutil import local_today
from subsidy.errors import PermissionDenied
from subsidy.extensions import db
from subsidy.policies import service
from subsidy.policies.models import Policy
from subsidy.stats.service import _policies
from tests.factories import make_city, make_user

CITY = "6404"
TITLE = "固原市惠农补贴资金“一卡通”发放管理办法"


@pytest.fixture(autouse=True)
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))


@pytest.fixture
def city(county, db):
    return make_city()


def _publish(api, **kw):
    body = {"title": TITLE, "body": "一律通过“一卡通”发放到户。", "region_code": CITY, **kw}
    resp = api.post("/api/v1/policies", json=body)
    assert resp.status_code == 201, resp.json
    assert api.post(f"/api/v1/policies/{resp.json['id']}/publish").status_code == 200
    return resp.json["id"]


def test_the_city_admin_publishes_a_city_wide_policy_on_every_countys_farmer_pages(city, api_as, client):
    city_admin = api_as("city_admin", CITY)
    pid = _publish(city_admin)
    policy = db.session.get(Policy, pid)
    assert (policy.county_code, policy.region_code) == (CITY, CITY)  # the writing unit: the city
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "policy.publish")).region_code == CITY
    for village in ("640425100201", "640402100201"):
        page = client.get(f"/m/policies?region={village}").get_data(as_text=True)
        assert TITLE in page, village
        assert TITLE in client.get(f"/m/?region={village}").get_data(as_text=True), village
    assert TITLE not in client.get("/m/policies?region=640502100201").get_data(as_text=True)  # another city
    # only for the city and under it
    resp = city_admin.post("/api/v1/policies", json={"title": "外市", "body": "正文", "region_code": "6405"})
    assert resp.status_code == 400 and resp.json["error"]["fields"]["region_code"]
    county_admin = api_as("county_admin", "640425")
    resp = county_admin.post("/api/v1/policies", json={"title": "全市", "body": "正文", "region_code": CITY})
    assert resp.status_code == 400 and resp.json["error"]["fields"]["region_code"] == "只能为本县及以下区划发布政策"


def test_county_staff_read_a_city_policy_but_cannot_change_it(city, api_as, login_as):
    city_admin = api_as("city_admin", CITY)
    pid = _publish(city_admin)
    draft = city_admin.post("/api/v1/policies",
                            json={"title": "草稿", "body": "未发布", "region_code": CITY}).json["id"]
    county_admin = api_as("county_admin", "640425")
    assert county_admin.get(f"/api/v1/policies/{pid}").json["title"] == TITLE
    assert api_as("village_clerk", "640402100201").get(f"/api/v1/policies/{pid}").status_code == 200
    listed = [p["id"] for p in county_admin.get("/api/v1/policies").json["items"]]
    assert pid in listed and draft not in listed
    assert county_admin.get(f"/api/v1/policies/{draft}").status_code == 404  # a city draft is the city's
    assert county_admin.post(f"/api/v1/policies/{pid}/withdraw", json={"reason": "不适用"}).status_code == 403
    assert db.session.get(Policy, pid).status.value == "published"
    admin = county_admin.user
    with pytest.raises(PermissionDenied):
        service.update_policy(admin, pid, title="改", body="改")
    db.session.rollback()
    web = login_as("county_admin", "640425")
    page = web.get(f"/policies/{pid}")
    assert page.status_code == 200 and TITLE in page.get_data(as_text=True)
    assert f"/policies/{pid}/withdraw" not in page.get_data(as_text=True)  # no button of the writer
    assert web.get(f"/policies/{pid}/edit").status_code == 403
    assert web.get(f"/policies/{pid}/publish").status_code == 403
    # and the city does not rewrite a county's policy
    county_pid = _publish(county_admin, title="彭阳县政策", region_code="640425")
    assert city_admin.get(f"/api/v1/policies/{county_pid}").status_code == 200
    assert city_admin.post(f"/api/v1/policies/{county_pid}/withdraw", json={"reason": "x"}).status_code == 403


def test_the_city_admin_publishes_from_the_page_without_an_sms(city, login_as):
    web = login_as("city_admin", CITY)
    resp = web.post("/policies/new", data={"title": TITLE, "body": "正文", "category": "other", "region_code": CITY})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    pid = db.session.scalar(sa.select(Policy.id).where(Policy.title == TITLE))
    page = web.get(f"/policies/{pid}/publish")
    assert page.status_code == 200 and "群发短信" not in page.get_data(as_text=True)
    assert web.post(f"/policies/{pid}/publish", data={"step": "publish"}).status_code == 302
    assert db.session.get(Policy, pid).status.value == "published"


def test_the_statistics_count_a_city_policy_once_for_the_city(city, api_as):
    year = local_today().year
    _publish(api_as("city_admin", CITY))
    _publish(api_as("county_admin", "640425"), title="彭阳县政策", region_code="640425")
    _publish(api_as("county_admin", "640402"), title="原州区政策", region_code="640402100")
    assert _policies(CITY, year) == 3 == _policies("64", year)
    assert (_policies("640425", year), _policies("640402", year), _policies("640422", year)) == (2, 2, 1)
    assert _policies("640402100201", year) == 2 and _policies("6405", year) == 0
    counties = ["640402", "640422", "640425"]
    assert service.policies_published_by_region(CITY, year, counties) == {"640402": 2, "640422": 1, "640425": 2}
    # D7's identity: Σ counties − (n − 1) · city-wide policies
    assert sum(service.policies_published_by_region(CITY, year, counties).values()) - 2 * 1 == 3


def test_a_county_admin_still_writes_for_the_county(city):
    admin = make_user("county_admin", "640425")
    policy = service.create_policy(admin, title="县政策", body="正文")
    assert (policy.county_code, policy.region_code) == ("640425", "640425")

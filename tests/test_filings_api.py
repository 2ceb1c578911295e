"""The /filings endpoints of API.md: shapes, status codes, and the same rules as the pages."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from subsidy.extensions import db
from subsidy.filings.models import Review
from subsidy.notify.models import Message
from tests.factories import HouseholdFactory, ProjectFactory
from tests.filings_support import T0

V1 = "640425100201"


def _setup(api_as, n=2, **project_kw):
    project = ProjectFactory(**project_kw)
    households = [HouseholdFactory(region_code=V1) for _ in range(n)]
    db.session.commit()
    return project, households, api_as("village_clerk", V1)


def _act(client, filing_id, action, version, **body):
    return client.post(f"/api/v1/filings/{filing_id}/actions/{action}", json={"version": version, **body})


def test_the_whole_path_through_the_api(api_as, county):
    project, households, clerk = _setup(api_as, 2)
    township, county_rev = api_as("township_reviewer", "640425100"), api_as("county_reviewer")

    r = clerk.post("/api/v1/filings", json={"project_id": project.id, "region_code": V1})
    assert r.status_code == 201 and r.json == {"id": r.json["id"], "state": "draft", "version": 1, "round": 0}
    fid = r.json["id"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id, "quantity": "10"})
    assert r.status_code == 201
    assert r.json["quantity"] == "10.00" and r.json["amount"] == "1050.00" and r.json["flags"] == []
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[1].id, "amount": "2000.50"})
    assert r.status_code == 201 and r.json["quantity"] == "12.50" and r.json["amount"] == "2000.50"
    assert [f["code"] for f in r.json["flags"]] == ["amount_above_rate"]
    flagged_entry = r.json["id"]

    with time_machine.travel(T0, tick=False):
        r = _act(clerk, fid, "publicize", 1)
    assert r.status_code == 200 and r.json == {"id": fid, "state": "publicizing", "version": 2, "round": 1}
    with time_machine.travel(T0 + timedelta(days=7, minutes=1), tick=False):
        assert _act(clerk, fid, "submit", 2, comment="村民代表会议通过").json["state"] == "village_filed"
        r = _act(township, fid, "approve", 3)
        assert r.status_code == 409 and r.json["error"]["code"] == "invalid_transition"
        assert "风险提示" in r.json["error"]["message"]
        r = township.post(f"/api/v1/filings/{fid}/entries/{flagged_entry}/notes", json={"note": "经核实，含运费补差"})
        assert r.status_code == 201 and r.json["note"] == "经核实，含运费补差" and r.json["tier"] == "township"
        assert _act(township, fid, "approve", 3).json == {"id": fid, "state": "township_approved", "version": 4,
                                                         "round": 1}
        r = _act(county_rev, fid, "approve", 4, comment="审定")
        assert r.json == {"id": fid, "state": "county_approved", "version": 5, "round": 1}

    body = county_rev.get(f"/api/v1/filings/{fid}").json
    assert {k: body[k] for k in ("id", "project_id", "region_code", "state", "version")} == {
        "id": fid, "project_id": project.id, "region_code": V1, "state": "county_approved", "version": 5}
    assert body["total_amount"] == "3050.50" and body["entry_count"] == 2
    assert [(r["tier"], r["action"], r["from_state"], r["to_state"]) for r in body["reviews"]] == [
        ("village", "publicize", "draft", "publicizing"), ("village", "submit", "publicizing", "village_filed"),
        ("township", "approve", "village_filed", "township_approved"),
        ("county", "approve", "township_approved", "county_approved")]
    assert body["reviews"][1]["comment"] == "村民代表会议通过" and body["reviews"][0]["actor"]
    assert body["reviews"][0]["at"] in ("2017-06-01T01:00:00Z", "2017-06-01T01:00:00+00:00")
    assert [s["stage"] for s in body["snapshots"]] == ["publicized", "village", "township", "county"]
    assert all(s["entry_count"] == 2 and s["total_amount"] == "3050.50" and len(s["digest"]) == 64
               for s in body["snapshots"])
    assert body["mismatches"] == []
    flagged = next(e for e in body["entries"] if e["id"] == flagged_entry)
    assert flagged["notes"][0]["note"] == "经核实，含运费补差"  # the county sees the township's notes
    assert flagged["standard_amount"] == "1312.50"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_create_refusals(api_as, county):
    project, _, clerk = _setup(api_as)
    assert clerk.post("/api/v1/filings", json={"project_id": project.id}).status_code == 201
    r = clerk.post("/api/v1/filings", json={"project_id": project.id})
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate"
    r = api_as("township_reviewer", "640425100").post("/api/v1/filings", json={"project_id": project.id,
                                                                              "region_code": V1})
    assert r.status_code == 403
    r = clerk.post("/api/v1/filings", json={"project_id": project.id, "region_code": "640425101201"})
    assert r.status_code == 404
    r = clerk.post("/api/v1/filings", json={"project_id": "x"})
    assert r.status_code == 400 and "project_id" in r.json["error"]["fields"]
    assert clerk.post("/api/v1/filings", json={"project_id": 9999}).status_code == 404


def test_entry_refusals_and_delete(api_as, county):
    project, households, clerk = _setup(api_as)
    fid = clerk.post("/api/v1/filings", json={"project_id": project.id}).json["id"]
    eid = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id}).json["id"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id})
    assert r.status_code == 409 and r.json["error"]["code"] == "duplicate"
    other = HouseholdFactory(region_code="640425100202")
    db.session.commit()
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": other.id})
    assert r.status_code == 400 and "household_id" in r.json["error"]["fields"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[1].id, "quantity": "-1"})
    assert r.status_code == 400 and "quantity" in r.json["error"]["fields"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[1].id, "amount": 1.5})
    assert r.status_code == 201 and r.json["amount"] == "1.50"  # below the standard: allowed, not flagged
    township = api_as("township_reviewer", "640425100")
    r = township.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[1].id})
    assert r.status_code == 403
    assert api_as("village_clerk", "640425100202").delete(f"/api/v1/filings/{fid}/entries/{eid}").status_code == 404
    r = clerk.patch(f"/api/v1/filings/{fid}/entries/{eid}", json={"amount": "99.00"})
    assert r.status_code == 200 and r.json["amount"] == "99.00"
    assert clerk.delete(f"/api/v1/filings/{fid}/entries/{eid}").status_code == 204
    assert clerk.delete(f"/api/v1/filings/{fid}/entries/{eid}").status_code == 404
    assert _act(clerk, fid, "publicize", 1).status_code == 200
    r = clerk.delete(f"/api/v1/filings/{fid}/entries/{eid + 1}")
    assert r.status_code == 409 and "草稿" in r.json["error"]["message"]


def test_action_refusals_map_to_status_codes(api_as, county):
    project, households, clerk = _setup(api_as)
    fid = clerk.post("/api/v1/filings", json={"project_id": project.id}).json["id"]
    clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id})
    r = _act(clerk, fid, "approve", 1)
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_transition"
    r = _act(api_as("township_reviewer", "640425100"), fid, "publicize", 1)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    r = _act(api_as("village_clerk", "640425100202"), fid, "publicize", 1)
    assert r.status_code == 404
    r = _act(api_as("township_reviewer", "640425101"), fid, "publicize", 1)
    assert r.status_code == 404
    r = _act(clerk, fid, "publicize", 7)
    assert r.status_code == 409 and r.json["error"]["code"] == "stale_version"
    r = clerk.post(f"/api/v1/filings/{fid}/actions/publicize", json={})
    assert r.status_code == 400 and "version" in r.json["error"]["fields"]
    assert _act(clerk, fid, "explode", 1).status_code == 400
    assert _act(clerk, fid, "pay", 1).status_code == 409
    assert _act(clerk, fid, "publicize", 1).status_code == 200
    r = _act(clerk, fid, "withdraw", 2)
    assert r.status_code == 400 and r.json["error"]["fields"] == {"reason": "撤回必须说明原因"}
    r = _act(clerk, fid, "publicize", 1)  # a second click with the old version
    assert r.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 1


def test_list_is_scoped_and_filtered(api_as, county):
    project, households, clerk = _setup(api_as)
    other_project = ProjectFactory()
    HouseholdFactory(region_code="640425101201")
    db.session.commit()
    fid = clerk.post("/api/v1/filings", json={"project_id": project.id}).json["id"]
    clerk.post("/api/v1/filings", json={"project_id": other_project.id})
    clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id})
    _act(clerk, fid, "publicize", 1)
    far_clerk = api_as("village_clerk", "640425101201")
    far_clerk.post("/api/v1/filings", json={"project_id": project.id})

    county_rev = api_as("county_reviewer")
    assert county_rev.get("/api/v1/filings").json["total"] == 3
    body = county_rev.get(f"/api/v1/filings?project_id={project.id}&state=publicizing").json
    assert [i["id"] for i in body["items"]] == [fid]
    assert body["items"][0]["households"] == 1 and body["items"][0]["total_amount"] == "1312.50"
    assert api_as("township_reviewer", "640425100").get("/api/v1/filings").json["total"] == 2
    assert far_clerk.get("/api/v1/filings").json["total"] == 1
    assert far_clerk.get(f"/api/v1/filings/{fid}").status_code == 404
    assert county_rev.get("/api/v1/filings?state=nonsense").status_code == 400


def test_openapi_lists_the_filing_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, method in [("/api/v1/filings", "post"), ("/api/v1/filings", "get"),
                         ("/api/v1/filings/{filing_id}", "get"), ("/api/v1/filings/{filing_id}/entries", "post"),
                         ("/api/v1/filings/{filing_id}/entries/{entry_id}", "delete"),
                         ("/api/v1/filings/{filing_id}/actions/{action}", "post"),
                         ("/api/v1/filings/{filing_id}/entries/{entry_id}/notes", "post"),
                         ("/api/v1/watchlist/import", "post")]:
        assert method in spec["paths"].get(path, {}), (path, method)


def test_money_is_exact(api_as, county):
    project, households, clerk = _setup(api_as, 1, rate=Decimal("10.05"))
    fid = clerk.post("/api/v1/filings", json={"project_id": project.id}).json["id"]
    r = clerk.post(f"/api/v1/filings/{fid}/entries", json={"household_id": households[0].id, "quantity": "12.5"})
    assert r.json["amount"] == "125.63"  # 125.625 rounded half up

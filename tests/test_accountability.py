"""Accountability decisions (问责; docs/design.md "Supervision with consequences"): the supervisor
records them (API and page, audited, never edited), every tier reads those of its region, and the
published ones are on the county's public page /m/disclosures without the case behind them."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from subsidy.accountability.models import AccountabilityDecision, Measure
from subsidy.audit.models import AuditEvent
from subsidy.cases.models import CaseKind
from subsidy.common.timeutil import local_today
from subsidy.regions.models import Level
from tests.factories import CaseFactory, FilingFactory, RegionFactory

VILLAGE = "640425100201"
OTHER_VILLAGE = "640425101201"


def _body(**kw) -> dict:
    body = {"region_code": VILLAGE, "person_name": "李建国", "post": "村党支部书记", "measure": "admonishment",
            "document_no": "彭纪发〔2026〕12号", "decided_on": (local_today() - timedelta(days=3)).isoformat(),
            "summary": "在耕地地力保护补贴备案中未核实土地面积，致多报冒领。", "publish": False}
    body.update(kw)
    return body


def _other_county(db):
    """原州区 with one township and one village, and a complaint and a filing there."""
    RegionFactory(code="640402", name="原州区", level=Level.county)
    RegionFactory(code="640402100", name="南关街道", level=Level.township, parent_code="640402")
    RegionFactory(code="640402100201", name="南关村", level=Level.village, parent_code="640402100")
    case = CaseFactory(region_code="640402100201", assigned_region_code="640402100", kind=CaseKind.complaint)
    filing = FilingFactory(region_code="640402100201")
    db.session.commit()
    return case, filing


# --- the API ---------------------------------------------------------------------------------

def test_supervisor_records_a_decision_and_it_is_audited(api_as, db):
    api = api_as("supervisor")
    case = CaseFactory(kind=CaseKind.complaint)
    filing = FilingFactory()
    db.session.commit()
    resp = api.post("/api/v1/accountability", json=_body(case_id=case.id, filing_id=filing.id))
    assert resp.status_code == 201, resp.json
    out = resp.json
    assert {k: out[k] for k in ("region_code", "person_name", "post", "measure", "document_no", "summary")} == {
        "region_code": VILLAGE, "person_name": "李建国", "post": "村党支部书记", "measure": "admonishment",
        "document_no": "彭纪发〔2026〕12号", "summary": "在耕地地力保护补贴备案中未核实土地面积，致多报冒领。"}
    assert out["decided_on"] == _body()["decided_on"] and out["case_id"] == case.id and out["filing_id"] == filing.id
    assert out["published_at"] is None and out["created_at"] and out["created_by"] == api.user.id
    assert isinstance(out["id"], int)

    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "accountability.record")).one()
    assert event.object_type == "accountability" and event.object_id == str(out["id"])
    assert event.region_code == VILLAGE and event.actor_id == api.user.id
    detail = json.loads(event.detail)
    assert detail["measure"] == "admonishment" and detail["document_no"] == "彭纪发〔2026〕12号"
    assert detail["case_id"] == case.id and detail["published"] is False

    listed = api.get("/api/v1/accountability").json
    assert listed["total"] == 1 and listed["items"][0]["id"] == out["id"]
    assert listed["items"][0]["case_id"] == case.id


def test_publish_sets_the_publication_time_at_creation(api_as, db):
    api = api_as("supervisor")
    out = api.post("/api/v1/accountability", json=_body(publish=True)).json
    assert out["published_at"] is not None
    decision = db.session.get(AccountabilityDecision, out["id"])
    assert decision.published_at == decision.created_at and decision.measure is Measure.admonishment


def test_only_the_supervisor_records_and_every_staff_role_reads(api_as):
    for role in ("village_clerk", "township_reviewer", "county_reviewer", "county_admin"):
        api = api_as(role)
        resp = api.post("/api/v1/accountability", json=_body())
        assert resp.status_code == 403, role
        assert api.get("/api/v1/accountability").status_code == 200, role


def test_a_decision_is_never_edited_nor_deleted(api_as):
    api = api_as("supervisor")
    decision_id = api.post("/api/v1/accountability", json=_body()).json["id"]
    for method in ("PATCH", "PUT", "DELETE"):
        assert api.open(f"/api/v1/accountability/{decision_id}", method=method, json={}).status_code in (404, 405)
        assert api.open("/api/v1/accountability", method=method, json={}).status_code == 405


def test_the_region_must_be_in_the_supervisors_jurisdiction(api_as, db):
    _other_county(db)
    api = api_as("supervisor")
    for code, message in (("640402100201", "只能对本辖区内的人员记录问责"), ("640499", "行政区划不存在"),
                          ("12345", "格式")):
        resp = api.post("/api/v1/accountability", json=_body(region_code=code))
        assert resp.status_code == 400, code
        assert message in resp.json["error"]["fields"]["region_code"]
    for code in ("640425", "640425100", OTHER_VILLAGE):  # the county, a township, a village under it
        assert api.post("/api/v1/accountability", json=_body(region_code=code)).status_code == 201, code
    # a township supervisor's region ends at the township
    township = api_as("supervisor", "640425100")
    resp = township.post("/api/v1/accountability", json=_body(region_code=OTHER_VILLAGE))
    assert resp.status_code == 400 and "region_code" in resp.json["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountabilityDecision)) == 3


def test_another_countys_case_or_filing_is_refused_as_if_it_did_not_exist(api_as, db):
    case, filing = _other_county(db)
    api = api_as("supervisor")
    resp = api.post("/api/v1/accountability", json=_body(case_id=case.id))
    assert resp.status_code == 400
    elsewhere = resp.json["error"]["fields"]["case_id"]
    missing = api.post("/api/v1/accountability", json=_body(case_id=case.id + 1000)).json["error"]["fields"]["case_id"]
    assert elsewhere == missing == "诉求不存在或不在您的管辖范围内"
    assert case.ref_no not in json.dumps(resp.json, ensure_ascii=False) and "南关" not in resp.text

    resp = api.post("/api/v1/accountability", json=_body(filing_id=filing.id))
    assert resp.status_code == 400
    assert resp.json["error"]["fields"]["filing_id"] == "备案不存在或不在您的管辖范围内"
    missing = api.post("/api/v1/accountability", json=_body(filing_id=filing.id + 1000))
    assert missing.json["error"]["fields"]["filing_id"] == resp.json["error"]["fields"]["filing_id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountabilityDecision)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "accountability.record")) == 0


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"measure": "execution"}, "measure", "请选择问责方式：谈话提醒、批评教育、诫勉、党纪政务处分、移送司法机关"),
    ({"measure": ""}, "measure", "请选择问责方式"),
    ({"decided_on": "2026-02-30"}, "decided_on", "日期格式应为 2026-03-01"),
    ({"decided_on": "20260301"}, "decided_on", "日期格式应为 2026-03-01"),
    ({"decided_on": "1999-12-31"}, "decided_on", "不能早于 2000 年"),
    ({"document_no": "  "}, "document_no", "请填写文号"),
    ({"document_no": "号" * 61}, "document_no", "不超过 60 字"),
    ({"person_name": "王" * 41}, "person_name", "不超过 40 字"),
    ({"person_name": "李\u200b建国"}, "person_name", "不可见字符"),
    ({"post": "书" * 61}, "post", "不超过 60 字"),
    ({"summary": ""}, "summary", "请填写问责事由和处理情况"),
    ({"summary": "事" * 2001}, "summary", "不超过 2000 字"),
    ({"case_id": 0}, "case_id", None),
    ({"unknown": 1}, "unknown", "不认识的字段"),
])
def test_bad_input_names_the_field(api_as, change, field, message):
    resp = api_as("supervisor").post("/api/v1/accountability", json=_body(**change))
    assert resp.status_code == 400, resp.json
    fields = resp.json["error"]["fields"]
    assert field in fields, fields
    assert message is None or message in fields[field]


def test_a_decision_dated_in_the_future_is_refused(api_as):
    api = api_as("supervisor")
    resp = api.post("/api/v1/accountability", json=_body(decided_on=(local_today() + timedelta(days=1)).isoformat()))
    assert resp.status_code == 400
    assert resp.json["error"]["fields"]["decided_on"] == "决定日期不能晚于今天"
    assert api.post("/api/v1/accountability", json=_body(decided_on=local_today().isoformat())).status_code == 201


def test_the_list_stays_in_the_readers_region_and_narrows_by_region(api_as, db):
    supervisor = api_as("supervisor")
    for code in (VILLAGE, OTHER_VILLAGE, "640425"):
        supervisor.post("/api/v1/accountability", json=_body(region_code=code, person_name=f"人{code[-3:]}"))
    assert supervisor.get("/api/v1/accountability").json["total"] == 3
    narrowed = supervisor.get("/api/v1/accountability?region_code=640425101").json
    assert [i["region_code"] for i in narrowed["items"]] == [OTHER_VILLAGE]
    clerk = api_as("village_clerk")
    assert [i["region_code"] for i in clerk.get("/api/v1/accountability").json["items"]] == [VILLAGE]
    assert clerk.get(f"/api/v1/accountability?region_code={OTHER_VILLAGE}").status_code == 404
    assert clerk.get("/api/v1/accountability?region_code=123").status_code == 400
    _other_county(db)
    assert supervisor.get("/api/v1/accountability?region_code=640402").status_code == 404


def test_the_accused_village_does_not_learn_of_the_complaint_behind_a_decision(api_as, db):
    """A complaint about a village is never seen there (docs/design.md "Cases"): the village reads
    the decision about its chief, without the case it concerns."""
    complaint = CaseFactory(kind=CaseKind.complaint, region_code=VILLAGE)
    db.session.commit()
    supervisor = api_as("supervisor")
    assert supervisor.post("/api/v1/accountability", json=_body(case_id=complaint.id)).status_code == 201
    item = api_as("village_clerk").get("/api/v1/accountability").json["items"][0]
    assert item["person_name"] == "李建国" and item["case_id"] is None
    assert api_as("township_reviewer").get("/api/v1/accountability").json["items"][0]["case_id"] == complaint.id


# --- the public page -------------------------------------------------------------------------

def test_published_decisions_are_on_the_countys_public_page_and_unpublished_are_not(api_as, client, db):
    complaint = CaseFactory(kind=CaseKind.complaint, contact_name="举报人张三")
    db.session.commit()
    api = api_as("supervisor")
    api.post("/api/v1/accountability", json=_body(publish=True, case_id=complaint.id))
    api.post("/api/v1/accountability", json=_body(person_name="王未公", document_no="彭纪发〔2026〕13号"))
    home = client.get("/m/")
    assert 'href="/m/disclosures"' in home.get_data(as_text=True) and "问责公开" in home.get_data(as_text=True)
    resp = client.get("/m/disclosures")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    for shown in ("李建国", "村党支部书记", "白阳镇201村", "诫勉", "彭纪发〔2026〕12号", "未核实土地面积",
                  _body()["decided_on"]):
        assert shown in page, shown
    assert "王未公" not in page and "彭纪发〔2026〕13号" not in page
    # nothing about the case behind it, nor who complained
    assert complaint.ref_no not in page and "举报人张三" not in page and "/cases/" not in page
    assert "script-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "<script" not in page


def test_the_public_page_shows_the_chosen_countys_decisions_newest_first(api_as, client, db):
    _other_county(db)
    api = api_as("supervisor")
    today = local_today()
    api.post("/api/v1/accountability", json=_body(publish=True, person_name="早先",
                                                  decided_on=(today - timedelta(days=30)).isoformat()))
    api.post("/api/v1/accountability", json=_body(publish=True, person_name="最近", decided_on=today.isoformat()))
    other = api_as("supervisor", "640402")
    assert other.post("/api/v1/accountability",
                      json=_body(publish=True, region_code="640402100201", person_name="外县人")).status_code == 201
    # two counties: the farmer chooses, as on every /m/ page
    assert "请选择您所在的县" in client.get("/m/disclosures").get_data(as_text=True)
    page = client.get("/m/disclosures?region=640425").get_data(as_text=True)
    assert "外县人" not in page and page.index("最近") < page.index("早先")
    assert "外县人" in client.get("/m/disclosures?region=640402").get_data(as_text=True)


# --- staff pages -------------------------------------------------------------------------------

def _form(**kw) -> dict:
    data = _body(**kw)
    data["publish"] = "y" if data.pop("publish") else ""
    return {k: ("" if v is None else str(v)) for k, v in data.items()}


def test_supervisor_records_through_the_page(login_as, client, db):
    supervisor = login_as("supervisor")
    case = CaseFactory(kind=CaseKind.complaint)
    db.session.commit()
    form = supervisor.get("/accountability/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "data-confirm=" in html and "不能修改或删除" in html and "党纪政务处分" in html
    resp = supervisor.post("/accountability/new", data=_form(publish=True, case_id=case.ref_no))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    decision = db.session.scalars(sa.select(AccountabilityDecision)).one()
    assert decision.case_id == case.id and decision.published_at is not None
    assert decision.created_by == supervisor.user.id
    listing = supervisor.get("/accountability").get_data(as_text=True)
    assert "李建国" in listing and "已公开" in listing and case.ref_no in listing
    assert "李建国" in client.get("/m/disclosures").get_data(as_text=True)
    assert "问责" in supervisor.get("/accountability").get_data(as_text=True)  # the navigation entry


def test_a_refused_form_keeps_what_was_typed_and_names_the_fields(login_as, db):
    supervisor = login_as("supervisor")
    future = (local_today() + timedelta(days=2)).isoformat()
    resp = supervisor.post("/accountability/new", data=_form(decided_on=future, case_id="ZX-2099-000001",
                                                             measure="", summary="经查属实"))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "决定日期不能晚于今天" in html and "诉求不存在或不在您的管辖范围内" in html and "请选择问责方式" in html
    assert 'value="李建国"' in html and 'value="彭纪发〔2026〕12号"' in html and "经查属实" in html
    assert f'value="{future}"' in html and 'value="ZX-2099-000001"' in html
    assert re.search(r'<option[^>]*selected[^>]*value="640425100201"|<option[^>]*value="640425100201"[^>]*selected',
                     html)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountabilityDecision)) == 0


def test_other_roles_read_the_list_but_not_the_form(login_as, api_as, db):
    api_as("supervisor").post("/api/v1/accountability", json=_body(region_code=OTHER_VILLAGE, person_name="外村人"))
    api_as("supervisor").post("/api/v1/accountability", json=_body(person_name="本村人"))
    clerk = login_as("village_clerk")
    listing = clerk.get("/accountability")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "本村人" in html and "外村人" not in html and 'href="/accountability/new"' not in html
    assert clerk.get("/accountability/new").status_code == 403
    assert clerk.post("/accountability/new", data=_form()).status_code == 403
    county = login_as("county_admin")
    assert "外村人" in county.get("/accountability?region_code=640425101").get_data(as_text=True)
    assert "本村人" not in county.get("/accountability?region_code=640425101").get_data(as_text=True)
    assert county.get("/accountability?region_code=640402").status_code == 404

"""Staff pages for cases (DESIGN.md "Cases"): the unit's queue, the case page and its
forms, recording a case taken by phone or at the office."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.cases import service
from subsidy.cases.models import Case, CaseState
from tests.cases_support import COUNTY, OTHER_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE_2, china, record
from tests.factories import make_user

NOW = china(2024, 3, 12, 10)


@pytest.fixture
def web(county, login_as):
    with time_machine.travel(NOW, tick=False):
        client = login_as("township_reviewer", TOWNSHIP)
    return client


def get(client, url):
    with time_machine.travel(NOW, tick=False):
        return client.get(url)


def post(client, url, data):
    with time_machine.travel(NOW, tick=False):
        return client.post(url, data=data)


def test_the_queue_oldest_deadline_first_with_overdue_marked(county, web, db):
    township = make_user("township_reviewer", TOWNSHIP)
    record(township, at=china(2024, 3, 11), subject="新来的咨询")
    overdue = record(township, at=china(2024, 3, 1), subject="超期的咨询")
    record(township, at=china(2024, 3, 5), kind="complaint", region_code=VILLAGE_2, subject="投诉某事")
    done = record(township, at=china(2024, 2, 26), subject="已答复的咨询")
    with time_machine.travel(china(2024, 2, 27), tick=False):
        service.reply_case(township, done.id, "答复")
    record(township, at=china(2024, 3, 1), region_code=OTHER_VILLAGE, subject="别的镇的事")  # another township's queue
    db.session.commit()

    page = get(web, "/cases/").get_data(as_text=True)
    # Deadlines: 6 Mar (overdue), 14 Mar (3 days from 11 Mar), 26 Mar (15 days from 5 Mar).
    assert page.index("超期的咨询") < page.index("新来的咨询") < page.index("投诉某事")
    assert "已答复的咨询" not in page and "别的镇的事" not in page
    row = re.search(r'<tr class="overdue">.*?</tr>', page, re.S).group(0)
    assert overdue.ref_no in row and "已超期" in row
    assert "本单位待办 3 件，其中超期 1 件" in page

    assert "投诉某事" not in get(web, "/cases/?kind=inquiry").get_data(as_text=True)
    only_v2 = get(web, f"/cases/?region_code={VILLAGE_2}").get_data(as_text=True)
    assert "投诉某事" in only_v2 and "新来的咨询" not in only_v2
    replied = get(web, "/cases/?state=replied").get_data(as_text=True)
    assert "已答复的咨询" in replied and "新来的咨询" not in replied
    assert get(web, "/cases/?overdue=1").get_data(as_text=True).count("<tr class=\"overdue\">") == 1
    assert get(web, "/cases/?kind=nonsense").status_code == 400


def test_record_a_phone_call(county, web, db):
    assert get(web, "/cases/new").status_code == 200
    bad = post(web, "/cases/new", {"kind": "inquiry", "channel": "phone", "region_code": "", "subject": "",
                                   "body": "", "contact_phone": "12", "entry_id": "", "household_id": ""})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "请填写标题" in text and "请选择诉求涉及的村或乡镇" in text
    ok = post(web, "/cases/new", {"kind": "inquiry", "channel": "phone", "region_code": VILLAGE,
                                  "subject": "问补贴标准", "body": "今年玉米补贴每亩多少？",
                                  "contact_phone": "13909541234", "contact_name": "马大爷", "entry_id": "",
                                  "household_id": ""})
    assert ok.status_code == 302
    case = db.session.scalar(sa.select(Case))
    assert ok.headers["Location"].endswith(f"/cases/{case.id}")
    assert case.channel.value == "phone" and case.ref_no == "ZX-2024-000001"


def test_the_case_page_and_its_actions(county, web, db):
    township = make_user("township_reviewer", TOWNSHIP)
    case = record(township, at=china(2024, 3, 11))
    page = get(web, f"/cases/{case.id}").get_data(as_text=True)
    assert case.ref_no in page and "答复并办结" in page and "转办" in page and "不予受理" in page
    assert "办理过程" in page and "受理" in page

    assert post(web, f"/cases/{case.id}/accept", {}).status_code == 302
    missing = post(web, f"/cases/{case.id}/transfer", {"t-region_code": VILLAGE, "t-reason": ""})
    assert missing.status_code == 422 and "请填写原因" in missing.get_data(as_text=True)
    wrong = post(web, f"/cases/{case.id}/transfer", {"t-region_code": TOWNSHIP, "t-reason": "x"})
    assert wrong.status_code == 422 and "该诉求已由此单位办理" in wrong.get_data(as_text=True)
    empty = post(web, f"/cases/{case.id}/reply", {"body": ""})
    assert empty.status_code == 422
    done = post(web, f"/cases/{case.id}/reply", {"body": "3 月底发放。"})
    assert done.status_code == 302
    db.session.refresh(case)
    assert case.state == CaseState.replied
    page = get(web, done.headers["Location"]).get_data(as_text=True)
    assert "已答复（办结），已向农户发送短信通知。" in page and "3 月底发放。" in page
    again = post(web, f"/cases/{case.id}/reply", {"body": "再次"})
    assert again.status_code == 409 and "不能答复" in again.get_data(as_text=True)


def test_a_complaint_is_replied_to_with_its_finding(county, web, db):
    """Issue 17: the reply form of a complaint asks for 核查结论; without one it is refused beside
    the field with the text kept, and the finding shows on the case."""
    township = make_user("township_reviewer", TOWNSHIP)
    case = record(township, at=china(2024, 3, 11), kind="complaint")
    page = get(web, f"/cases/{case.id}").get_data(as_text=True)
    assert 'name="finding"' in page and "部分属实" in page
    refused = post(web, f"/cases/{case.id}/reply", {"body": "已到村核实。"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "投诉答复时须选择核查结论" in text and "已到村核实。" in text
    db.session.refresh(case)
    assert case.state != CaseState.replied
    done = post(web, f"/cases/{case.id}/reply", {"body": "已到村核实。", "finding": "partly_substantiated"})
    assert done.status_code == 302
    page = get(web, done.headers["Location"]).get_data(as_text=True)
    assert 'id="finding"' in page and "部分属实" in page
    inquiry = record(township, at=china(2024, 3, 12))
    assert 'name="finding"' not in get(web, f"/cases/{inquiry.id}").get_data(as_text=True)


def test_the_county_records_a_return_call_rating_from_the_page(county, login_as, db):
    township = make_user("township_reviewer", TOWNSHIP)
    case = record(township, at=china(2024, 3, 11))
    with time_machine.travel(NOW, tick=False):
        service.reply_case(township, case.id, "答复")
        db.session.commit()
        county_web = login_as("county_reviewer", COUNTY)
        assert "登记回访评价" in county_web.get(f"/cases/{case.id}").get_data(as_text=True)
        missing = county_web.post(f"/cases/{case.id}/rating", data={"v-rating": "dissatisfied", "v-reason": ""})
        assert missing.status_code == 422
        resp = county_web.post(f"/cases/{case.id}/rating", data={"v-rating": "dissatisfied", "v-reason": "没解决"})
        assert resp.status_code == 302
    db.session.refresh(case)
    assert case.state == CaseState.in_progress and case.reopen_count == 1


def test_reject_from_the_page(county, web, db):
    township = make_user("township_reviewer", TOWNSHIP)
    case = record(township, at=china(2024, 3, 11))
    assert post(web, f"/cases/{case.id}/reject", {"r-reason": ""}).status_code == 422
    assert post(web, f"/cases/{case.id}/reject", {"r-reason": "骚扰电话"}).status_code == 302
    db.session.refresh(case)
    assert case.state == CaseState.rejected


@pytest.mark.parametrize(("role", "code", "record_button"), [
    ("village_clerk", VILLAGE, True), ("township_reviewer", TOWNSHIP, True), ("county_admin", COUNTY, True),
    ("supervisor", COUNTY, False),
])
def test_the_nav_entry_and_the_queue_for_every_role(county, login_as, role, code, record_button):
    client = login_as(role, code)
    page = client.get("/cases/").get_data(as_text=True)
    assert "诉求办理" in page
    assert ("登记诉求" in page) is record_button
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/cases/"' in home


def test_api_list_scopes_and_filters(county, api_as, db):
    from tests.factories import CaseFactory

    CaseFactory(subject="本镇咨询")
    CaseFactory(subject="已办结", state=CaseState.closed, replied_at=china(2024, 3, 5))
    CaseFactory(subject="王洼镇的", region_code=OTHER_VILLAGE, assigned_region_code="640425101")
    CaseFactory(subject="转到村里", assigned_region_code=VILLAGE)
    db.session.commit()
    township = api_as("township_reviewer", TOWNSHIP)
    with time_machine.travel(NOW, tick=False):
        mine = township.get("/api/v1/cases?scope=mine&state=open").json
        everything = township.get("/api/v1/cases").json
        overdue = township.get("/api/v1/cases?overdue=1").json
    assert [c["subject"] for c in mine["items"]] == ["本镇咨询"]
    assert {c["subject"] for c in everything["items"]} == {"本镇咨询", "已办结", "转到村里"}
    assert {c["subject"] for c in overdue["items"]} == {"本镇咨询", "转到村里"}
    clerk = api_as("village_clerk", VILLAGE)
    assert {c["subject"] for c in clerk.get("/api/v1/cases?scope=mine").json["items"]} == {"转到村里"}
    assert township.get("/api/v1/cases?per_page=1").json["per_page"] == 1

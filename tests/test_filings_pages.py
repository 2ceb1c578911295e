"""The pages: the clerk's filing, the reviewers' queue and review page, the printable 公示表."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from tests.conftest import PASSWORD
from tests.factories import HouseholdFactory, ProjectFactory
from tests.filings_support import T0, make_world, walk_to

V1 = "640425100201"


def _version(filing_id):
    db.session.expire_all()
    return db.session.get(Filing, filing_id).version


def _relogin(c):
    """Sessions last 8 hours: after a jump in time, sign in again."""
    assert c.post("/login", data={"username": c.user.username, "password": PASSWORD}).status_code == 302


def test_clerk_files_a_list_through_the_pages(login_as, county):
    project = ProjectFactory(name="耕地地力保护补贴", rate=Decimal("105.00"))
    HouseholdFactory(region_code=V1, head_name="马建国", land_area_mu=Decimal("8.00"))
    HouseholdFactory(region_code=V1, head_name="杨秀兰", land_area_mu=Decimal("4.50"), phone=None)
    db.session.commit()
    with time_machine.travel(T0, tick=False) as clock:
        c = login_as("village_clerk", V1)
        page = c.get("/filings/").get_data(as_text=True)
        assert "发起本村备案" in page and "耕地地力保护补贴" in page and "备案审核" in page
        r = c.post("/filings/new", data={"project_id": project.id})
        assert r.status_code == 302
        fid = int(r.headers["Location"].rstrip("/").split("/")[-1])

        page = c.get(f"/filings/{fid}?hq=马建国").get_data(as_text=True)
        assert "马建国" in page and "加入" in page
        hid = db.session.scalar(sa.text("SELECT id FROM households WHERE head_name = '马建国'"))
        assert c.post(f"/filings/{fid}/entries", data={"household_id": hid}).status_code == 302
        r = c.post(f"/filings/{fid}/entries", data={"household_id": hid})
        assert r.status_code == 303 and r.headers["Location"].endswith(f"/filings/{fid}")
        assert "同一项目一户只能申报一次" in c.get(r.headers["Location"]).get_data(as_text=True)
        r = c.post(f"/filings/{fid}/entries/all", follow_redirects=True)
        assert "已添加 1 户" in r.get_data(as_text=True)
        page = c.get(f"/filings/{fid}").get_data(as_text=True)
        assert "1312.50" in page  # 840.00 + 472.50
        assert "无手机号码" in page  # 杨秀兰's flag shows on the clerk's page
        assert 'data-confirm="公示后名单将在村务公开栏公示 7 天' in page  # asked first (static/js/app.js)

        r = c.post(f"/filings/{fid}/actions/withdraw", data={"version": _version(fid)})
        assert r.status_code == 303  # not publicizing yet: back to the page, with the message
        r = c.post(f"/filings/{fid}/actions/publicize", data={"version": _version(fid)})
        assert r.status_code == 302 and db.session.get(Filing, fid).state == FilingState.publicizing
        page = c.get(f"/filings/{fid}").get_data(as_text=True)
        assert 'class="countdown" data-ends="2017-06-08T01:00:00+00:00"' in page
        assert "/entries/all" not in page  # no more editing while publicizing
        r = c.post(f"/filings/{fid}/actions/withdraw", data={"version": _version(fid), "reason": ""})
        assert r.status_code == 422 and "请填写撤回原因" in r.get_data(as_text=True)

        clock.move_to(T0 + timedelta(days=3))
        _relogin(c)
        r = c.post(f"/filings/{fid}/actions/submit", data={"version": _version(fid)}, follow_redirects=True)
        assert r.request.path == f"/filings/{fid}" and "公示期满后才能村级备案" in r.get_data(as_text=True)
        assert db.session.get(Filing, fid).state == FilingState.publicizing
        clock.move_to(T0 + timedelta(days=7))
        _relogin(c)
        r = c.post(f"/filings/{fid}/actions/submit", data={"version": _version(fid), "comment": "已公示无异议"})
        assert r.status_code == 302 and db.session.get(Filing, fid).state == FilingState.village_filed


def test_printable_notice(login_as, county):
    w = make_world(2)
    w.households[0].head_name = "张建华"
    db.session.commit()
    f = walk_to(w, FilingState.publicizing)
    c = login_as("village_clerk", V1)
    page = c.get(f"/filings/{f.id}/notice").get_data(as_text=True)
    assert "张*华" in page and "张建华" not in page
    masked = w.households[0].id_number[:6] + "********" + w.households[0].id_number[-4:]
    assert masked in page and w.households[0].id_number not in page
    assert "<svg" in page and "<path" in page  # the QR code, inline
    assert "http://127.0.0.1:5000/m/villages/640425100201" in page
    assert "0954-7011111" in page and "白阳镇" in page  # where to object
    assert "2017年06月01日 09:00 至 2017年06月08日 09:00" in page  # China time
    assert "105.00" in page and "2625.00" in page and "@page" not in page
    assert "size: A4" in c.get("/static/css/app.css").get_data(as_text=True)


def test_reviewers_queue_review_page_and_notes(login_as, county):
    w = make_world(3)
    w.households[2].phone = None
    db.session.commit()
    f = walk_to(w, FilingState.village_filed)
    t = login_as("township_reviewer", "640425100")
    page = t.get("/filings/queue").get_data(as_text=True)
    assert "白阳镇201村" in page and w.project.name in page and "3937.50" in page
    assert '<span class="flag-count">1</span>' in page
    assert "待我审核（1）" in t.get("/filings/").get_data(as_text=True)

    page = t.get(f"/filings/{f.id}").get_data(as_text=True)
    assert page.count('class="note-form answer-flag"') == 1  # a note form on the one flagged entry
    assert "办理记录" in page and "村级备案" in page and "公示名单" in page
    r = t.post(f"/filings/{f.id}/actions/approve", data={"version": f.version}, follow_redirects=True)
    assert r.request.path == f"/filings/{f.id}" and "有风险提示但没有审核意见" in r.get_data(as_text=True)
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.household_id == w.households[2].id))
    assert t.post(f"/filings/{f.id}/entries/{entry_id}/notes", data={"note": ""}).status_code == 422
    assert t.post(f"/filings/{f.id}/entries/{entry_id}/notes", data={"note": "电话已补登"}).status_code == 302
    r = t.post(f"/filings/{f.id}/actions/approve", data={"version": _version(f.id)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/filings/queue")

    c = login_as("county_reviewer")
    page = c.get(f"/filings/{f.id}").get_data(as_text=True)
    assert "电话已补登" in page  # the county sees the township's note
    assert "项目预算剩余" in page and "1000000.00" in page and "996062.50" in page
    assert 'name="to"' in page and "退回乡镇" in page
    r = c.post(f"/filings/{f.id}/actions/return", data={"version": _version(f.id), "reason": "复核", "to": "x"})
    assert r.status_code == 422
    r = c.post(f"/filings/{f.id}/actions/return", data={"version": _version(f.id), "reason": "复核",
                                                         "to": "village_filed"})
    assert r.status_code == 302 and db.session.get(Filing, f.id).state == FilingState.village_filed
    assert c.post(f"/filings/{f.id}/actions/approve", data={"version": _version(f.id)}).status_code == 403
    r = t.post(f"/filings/{f.id}/actions/approve", data={"version": _version(f.id) - 1}, follow_redirects=True)
    assert r.request.path == f"/filings/{f.id}" and "请刷新页面后重试" in r.get_data(as_text=True)


def test_other_regions_and_roles_get_no_page(login_as, county):
    w = make_world(1)
    f = w.filing
    assert login_as("village_clerk", "640425100202").get(f"/filings/{f.id}").status_code == 404
    assert login_as("township_reviewer", "640425101").get(f"/filings/{f.id}").status_code == 404
    sup = login_as("supervisor", "640425")
    assert sup.get(f"/filings/{f.id}").status_code == 200
    assert sup.post(f"/filings/{f.id}/actions/publicize", data={"version": 1}).status_code == 403
    assert sup.get("/filings/queue").status_code == 403
    assert sup.get("/watchlist/").status_code == 403


def test_nav_entries_by_role(login_as, county):
    clerk_page = login_as("village_clerk", V1).get("/filings/").get_data(as_text=True)
    assert "备案审核" in clerk_page and "/filings/queue" not in clerk_page and "比对名单" not in clerk_page
    reviewer_page = login_as("county_reviewer").get("/filings/").get_data(as_text=True)
    assert 'href="/filings/queue"' in reviewer_page
    admin_page = login_as("county_admin").get("/filings/").get_data(as_text=True)
    assert 'href="/watchlist/"' in admin_page
    assert 'name="viewport"' in admin_page


def test_pagination_links_keep_the_query_and_translate(app):
    """The pager of every paged page (the 待我审核 queue after a deadline has several pages):
    the links keep the other query arguments and the labels still translate."""
    from flask import render_template_string

    from subsidy.common.pagination import Page

    source = '{% from "_macros.html" import pagination %}{{ pagination(page, "filings.queue") }}'
    with app.test_request_context("/filings/queue?page=2&flagged=1"):
        html = render_template_string(source, page=Page([], 2, 50, 120))
    assert 'href="/filings/queue?page=1&amp;flagged=1"' in html and "上一页" in html
    assert 'href="/filings/queue?page=3&amp;flagged=1"' in html and "下一页" in html
    assert "第 2 / 3 页，共 120 条" in html

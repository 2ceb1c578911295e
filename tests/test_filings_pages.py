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
        assert "1,312.50" in page  # 840.00 + 472.50, with a thousands separator
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
    assert "105.00" in page and "2,625.00" in page and "@page" not in page
    assert "size: A4" in c.get("/static/css/app.css").get_data(as_text=True)


def test_reviewers_queue_review_page_and_notes(login_as, county):
    w = make_world(3)
    w.households[2].phone = None
    db.session.commit()
    f = walk_to(w, FilingState.village_filed)
    t = login_as("township_reviewer", "640425100")
    page = t.get("/filings/queue").get_data(as_text=True)
    assert "白阳镇201村" in page and w.project.name in page and "3,937.50" in page
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
    assert "项目预算剩余" in page and "1,000,000.00" in page and "996,062.50" in page
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


def _badge(page: str) -> str:
    """The state badge in the page's heading (the first one drawn)."""
    import re

    return re.search(r'<span class="state state-(\w+)">', page).group(1)


def test_a_refused_publicize_shows_the_filing_as_it_is(login_as, county):
    """An empty list cannot be publicized: the clerk lands back on the filing's page, told why,
    with the draft's badge and buttons, never those of 公示中."""
    project = ProjectFactory()
    c = login_as("village_clerk", V1)
    with time_machine.travel(T0, tick=False):
        _relogin(c)
        fid = int(c.post("/filings/new", data={"project_id": project.id}).headers["Location"].split("/")[-1])
        r = c.post(f"/filings/{fid}/actions/publicize", data={"version": _version(fid)})
        assert r.status_code == 303 and r.headers["Location"].endswith(f"/filings/{fid}")
        page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "名单为空" in page and _badge(page) == "draft"
    assert "action-publicize" in page and "action-withdraw" not in page and "countdown" not in page
    assert db.session.get(Filing, fid).state == FilingState.draft


def test_a_refused_submit_shows_publicity_and_names_the_open_objection(login_as, county):
    from subsidy.cases import service as cases

    w = make_world(2)
    f = walk_to(w, FilingState.publicizing)
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.filing_id == f.id).order_by(Entry.id))
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        case = cases.record_case(w.township, kind="objection", channel="phone", entry_id=entry_id,
                                 subject="不符合条件", body="此户土地已流转。", contact_phone="13909541234")
        db.session.commit()
    c = login_as("village_clerk", V1)
    with time_machine.travel(f.publicity_ends_at + timedelta(hours=1), tick=False):
        _relogin(c)
        r = c.post(f"/filings/{f.id}/actions/submit", data={"version": _version(f.id), "comment": "无异议"},
                   follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.request.path == f"/filings/{f.id}" and r.status_code == 200
    assert "1 件异议没有办结" in page and case.ref_no in page
    assert _badge(page) == "publicizing" and "action-submit" in page
    assert db.session.get(Filing, f.id).state == FilingState.publicizing


def test_a_returned_filing_says_so_and_tells_the_clerk(login_as, county):
    from subsidy.filings import service, workflow
    from subsidy.notify.models import Message

    w = make_world(2)
    w.clerk.phone = "13909540001"
    db.session.commit()
    f = walk_to(w, FilingState.village_filed)
    with time_machine.travel(f.publicity_ends_at + timedelta(days=1), tick=False):
        workflow.perform(w.township, f.id, "return", version=f.version, reason="马家两户的耕地面积与确权不符")
        db.session.commit()
    c = login_as("village_clerk", V1)
    page = c.get(f"/filings/{f.id}").get_data(as_text=True)
    banner = page[page.index('id="returned"'):page.index('id="entries"')]
    assert "已退回" in banner and "马家两户的耕地面积与确权不符" in banner
    assert w.township.name in banner and "乡镇级" in banner and "白阳镇" in banner
    assert page.index('id="returned"') < page.index('class="tiles"')  # at the top
    listing = c.get("/filings/").get_data(as_text=True)
    assert "state-returned" in listing and "已退回" in listing
    assert [r.id for r in service.returned_filings(w.clerk)] == [f.id]
    assert service.returned_filings(w.township) == []

    sms = db.session.scalars(sa.select(Message).where(Message.template == "filing_returned")).all()
    assert [m.to_phone for m in sms] == ["13909540001"]
    assert "白阳镇" in sms[0].body and "马家两户的耕地面积与确权不符" in sms[0].body and "退回" in sms[0].body

    # Publicized again: no longer a returned filing.
    with time_machine.travel(f.publicity_ends_at + timedelta(days=2), tick=False):
        workflow.perform(w.clerk, f.id, "publicize", version=_version(f.id))
        db.session.commit()
    assert 'id="returned"' not in c.get(f"/filings/{f.id}").get_data(as_text=True)
    assert service.returned_filings(w.clerk) == []
    assert "state-returned" not in c.get("/filings/").get_data(as_text=True)


def test_a_refused_entry_edit_keeps_the_typed_values_beside_the_field(login_as, county):
    """Issue 16: 金额应为数字 sat at the top and the inputs were reset; the row now keeps what was
    typed, with the message beside the field, and nothing changes."""
    w = make_world(2)
    entry = db.session.scalar(sa.select(Entry).where(Entry.household_id == w.households[1].id))
    before = (entry.quantity, entry.amount)
    c = login_as("village_clerk", V1)
    r = c.post(f"/filings/{w.filing.id}/entries/{entry.id}/edit", data={"quantity": "7.5", "amount": "八百"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="entry-{entry.id}-amount-error">金额应为数字<' in page
    assert 'value="八百"' in page and 'value="7.5"' in page  # what was typed, not the stored values
    assert f'aria-describedby="entry-{entry.id}-amount-error"' in page
    assert f'id="entry-{entry.id}-quantity-error"' not in page
    db.session.expire_all()
    assert (db.session.get(Entry, entry.id).quantity, db.session.get(Entry, entry.id).amount) == before
    other = db.session.scalar(sa.select(Entry).where(Entry.household_id == w.households[0].id))
    assert f'id="entry-{other.id}-amount-error"' not in page  # only the row that was edited

    r = c.post(f"/filings/{w.filing.id}/entries/{entry.id}/edit", data={"quantity": "0", "amount": ""})
    assert r.status_code == 422
    assert f'id="entry-{entry.id}-quantity-error">数量应不小于 0.01<' in r.get_data(as_text=True)
    r = c.post(f"/filings/{w.filing.id}/entries/{entry.id}/edit", data={"quantity": "2", "amount": "300"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Entry, entry.id).amount == Decimal("300.00")

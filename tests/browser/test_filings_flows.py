"""Filing flows a new user stumbled on, in a real browser: a refused action shows the filing as
it is (with the reason), a returned filing says so at the top of its page and in the list, and
an objection is shown on the entry it objects to, linked from its case and back; staff find the
objected household by name when they register an objection."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings import workflow
from subsidy.filings.models import Entry
from subsidy.households.models import Household
from tests.browser.staff import fits, sign_in
from tests.factories import ProjectFactory, make_county, make_user
from tests.filings_support import FilingState, make_world, walk_to

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"


def test_a_refused_publicize_shows_the_draft_and_why(live_server, desktop, shot):
    make_county()
    project = ProjectFactory(name="耕地地力保护补贴")
    clerk = make_user("village_clerk", VILLAGE)
    db.session.commit()
    username, project_id = clerk.username, project.id
    db.session.rollback()
    page, base = desktop, live_server

    sign_in(page, base, username, lands=None)
    page.goto(f"{base}/filings/")
    page.select_option("select[name=project_id]", str(project_id))
    page.get_by_role("button", name="发起本村备案").click()
    page.wait_for_url("**/filings/*")
    filing_url = page.url
    page.locator("form.action-publicize button[type=submit]").click()  # confirm() answered yes
    page.wait_for_load_state()
    assert page.url == filing_url  # back on the filing's own address, not the POST's
    assert "名单为空" in page.locator(".flash-danger").inner_text()
    assert page.locator(".toolbar .state").inner_text() == "草稿"
    assert page.locator("form.action-publicize").count() == 1
    assert page.locator("form.action-withdraw").count() == 0 and page.locator(".countdown").count() == 0
    shot(page, "refused")
    page.reload()  # a reload shows the page again, it does not post again
    assert page.locator(".toolbar .state").inner_text() == "草稿"


def test_a_refused_entry_edit_keeps_what_was_typed(live_server, phone, shot):
    make_county()
    w = make_world(2)
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.household_id == w.households[0].id))
    filing_id, clerk = w.filing.id, w.clerk.username
    db.session.rollback()
    page, base = phone, live_server

    sign_in(page, base, clerk, lands=None)
    page.goto(f"{base}/filings/{filing_id}")
    row = page.locator(f"#entry-{entry_id}")
    row.locator("input[name=quantity]").fill("6.5")
    row.locator("input[name=amount]").fill("12O")  # a letter O typed for a zero
    row.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    row = page.locator(f"#entry-{entry_id}")
    error = row.locator(f"#entry-{entry_id}-amount-error")
    assert error.inner_text() == "金额应为数字" and error.is_visible()
    assert row.locator("input[name=amount]").input_value() == "12O"
    assert row.locator("input[name=quantity]").input_value() == "6.5"
    assert fits(page)
    shot(page, "entry-error")
    row.locator("input[name=amount]").fill("120")
    row.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "已修改" in page.locator(".flash-success").inner_text()
    assert page.locator(f"#entry-{entry_id}-amount-error").count() == 0


def test_a_returned_filing_shows_its_banner_and_tag(live_server, phone, shot):
    make_county()
    w = make_world(2)
    f = walk_to(w, FilingState.village_filed)
    with time_machine.travel(f.publicity_ends_at + timedelta(days=1), tick=False):
        workflow.perform(w.township, f.id, "return", version=f.version, reason="两户耕地面积与确权数据不符，请核实")
        db.session.commit()
    filing_id, clerk, reviewer = f.id, w.clerk.username, w.township.name
    db.session.rollback()
    page, base = phone, live_server

    sign_in(page, base, clerk, lands=None)
    page.goto(f"{base}/filings/")
    row = page.locator("table.filings-table tbody tr").first
    assert "已退回" in row.inner_text() and "草稿" in row.inner_text()
    assert fits(page)
    row.get_by_role("link", name="查看").click()
    page.wait_for_url(f"**/filings/{filing_id}")
    banner = page.locator("#returned")
    text = banner.inner_text()
    assert "已退回" in text and "两户耕地面积与确权数据不符" in text and reviewer in text and "乡镇" in text
    assert banner.bounding_box()["y"] < 740  # at the top: seen without scrolling, on a phone
    assert fits(page)
    shot(page, "returned")


def test_an_objection_is_registered_by_name_and_linked_both_ways(live_server, desktop, shot):
    make_county()
    w = make_world(3)
    f = walk_to(w, FilingState.publicizing)
    target = db.session.scalar(sa.select(Entry.id).where(Entry.filing_id == f.id).order_by(Entry.id.desc()))
    name = db.session.scalar(sa.select(Household.head_name).join(Entry, Entry.household_id == Household.id)
                             .where(Entry.id == target))
    filing_id, reviewer = f.id, w.township.username
    db.session.rollback()
    page, base = desktop, live_server

    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=True):
        sign_in(page, base, reviewer, lands=None)
        page.goto(f"{base}/cases/new")
        page.select_option("select[name=kind]", "objection")
        page.fill("input[name=entry_q]", name)
        page.get_by_role("button", name="查找").click()
        page.wait_for_load_state()
        page.select_option("select[name=entry_id]", str(target))
        page.fill("input[name=subject]", "不符合条件")
        page.fill("textarea[name=body]", "此户已外出务工多年，土地已流转。")
        page.fill("input[name=contact_phone]", "13909541234")
        page.get_by_role("button", name="受理").click()
        page.wait_for_url("**/cases/*")
        case_url = page.url
        ref = page.locator("h1").inner_text().split()[0]
        facts = page.locator("dl.facts").inner_text()
        assert "异议的名单条目" in facts and name in facts and "#" not in facts
        shot(page, "case")

        page.locator("a.entry-link").click()  # the case → its entry on the filing's page
        page.wait_for_url(f"**/filings/{filing_id}?**")
        row = page.locator(f"#entry-{target}")
        assert ref in row.inner_text() and row.is_visible()
        assert "1 件未办结，共 1 件" in page.locator("#objections").inner_text()
        shot(page, "entry")
        row.locator("a.objection-tag").click()  # and back
        page.wait_for_url(case_url)
        assert ref in page.locator("h1").inner_text()

"""问责公开 (docs/design.md "Supervision with consequences"): the supervisor records a published
decision through the page, answering the confirmation; a farmer's phone reaches it from /m/ and
reads it on a 360-pixel screen, with nothing fetched from another host and no script refused."""
from __future__ import annotations

from datetime import timedelta

import pytest

from subsidy.common.timeutil import local_today
from tests.browser.staff import fits, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def test_supervisor_publishes_a_decision_and_a_phone_reads_it(live_server, desktop, phone, shot, county, db):
    supervisor = make_user("supervisor")
    username = supervisor.username
    db.session.rollback()  # the live server needs SQLite's write lock (see test_farmer_phone.release)
    decided = (local_today() - timedelta(days=2)).isoformat()
    page, base = desktop, live_server

    sign_in(page, base, username)
    page.get_by_role("link", name="问责", exact=True).click()
    page.wait_for_url(f"{base}/accountability")
    page.get_by_role("link", name="+ 记录问责决定").click()
    page.wait_for_url(f"{base}/accountability/new")
    page.select_option("select[name=region_code]", "640425100201")
    page.fill("input[name=person_name]", "李建国")
    page.fill("input[name=post]", "村党支部书记")
    page.select_option("select[name=measure]", "admonishment")
    page.fill("input[name=document_no]", "彭纪发〔2026〕12号")
    page.fill("input[name=decided_on]", decided)
    page.fill("textarea[name=summary]", "在耕地地力保护补贴备案中未核实土地面积，致多报冒领。")
    page.check("input[name=publish]")
    shot(page, "form")
    page.get_by_role("button", name="记录", exact=True).click()
    page.wait_for_url(f"{base}/accountability")
    assert len(page.dialogs) == 1 and "不能修改或删除" in page.dialogs[0]  # asked before recording
    row = page.locator("#decisions tbody tr").first
    assert "李建国" in row.inner_text() and "已公开" in row.inner_text()
    shot(page, "list")

    farmer, base = phone, live_server
    farmer.goto(f"{base}/m/")
    farmer.get_by_role("link", name="问责公开").click()
    farmer.wait_for_url(f"{base}/m/disclosures")
    item = farmer.locator("#disclosure-list li").first
    text = item.inner_text()
    for shown in ("李建国", "村党支部书记", "白阳镇201村", "诫勉", "彭纪发〔2026〕12号", decided, "未核实土地面积"):
        assert shown in text, shown
    assert fits(farmer)
    assert farmer.network.off_host(base) == []
    shot(farmer, "phone")

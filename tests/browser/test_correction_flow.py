"""更正 in a real browser (docs/design.md "Supervision with consequences"): the county reopens a
paid filing to take one household off and add one that was missed; the village corrects; the
board shows only the two changed lines; once the township and the county approve, the recovery
and the new payment appear, and the dashboard's 问题处置 block counts them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.filings import workflow
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.recoveries.models import Recovery
from tests.browser.staff import fits, sign_in, sign_out
from tests.factories import HouseholdFactory, make_user
from tests.filings_support import note_all_flags
from tests.payments_support import PAID_AT, approved_world, payments_of, post_results

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"


def test_a_paid_filing_is_corrected_through_the_pages(live_server, desktop, phone, api_as, shot):
    api = api_as("county_reviewer")
    w = approved_world(3)
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])
    with time_machine.travel(PAID_AT, tick=False):
        post_results(api, b["id"], [(x.disbursement_id, "成功", "", f"B{x.id}", str(x.amount)) for x in p])
    HouseholdFactory(region_code=VILLAGE, head_name="漏报户")  # the household the village missed
    reviewer = make_user("county_reviewer")
    db.session.commit()
    f = db.session.get(Filing, w.filing.id)
    assert f.state == FilingState.paid
    off = db.session.get(Entry, p[0].entry_id)
    off_name = off and db.session.scalar(sa.text("SELECT head_name FROM households WHERE id = :h"),
                                         {"h": off.household_id})
    filing_id, paid_off, off_id = f.id, p[0].amount, off.id
    names = (reviewer.username, w.clerk.username)
    project_id, year = w.project.id, w.project.year
    db.session.rollback()  # let go of the database: the server writes from here
    page, base = desktop, live_server

    # The county reopens it, with the reason.
    sign_in(page, base, names[0])
    page.goto(f"{base}/filings/{filing_id}")
    form = page.locator("form.action-reopen")
    form.locator("textarea[name=reason]").fill("县纪委核查：一户已迁出，一户漏报")
    form.get_by_role("button", name="发起更正").click()
    page.wait_for_load_state()
    assert page.dialogs and "发起更正" in page.dialogs[-1]
    page.goto(f"{base}/filings/{filing_id}")
    assert page.locator(".toolbar .state").inner_text() == "草稿"
    assert "县纪委核查" in page.locator("#correction").inner_text()
    sign_out(page)

    # The village takes the paid household off (amount 0) and adds the one missed.
    sign_in(page, base, names[1], lands=None)
    page.goto(f"{base}/filings/{filing_id}")
    row = page.locator(f"#entry-{off_id}")
    row.locator("input[name=amount]").fill("0")
    row.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    page.goto(f"{base}/filings/{filing_id}?hq=漏报户")
    page.get_by_role("button", name="加入").click()
    page.wait_for_load_state()
    changes = page.locator("#correction tbody tr")
    assert changes.count() == 2 and "取消" in changes.all_inner_texts()[1] + changes.all_inner_texts()[0]
    shot(page, "village-correction")
    page.locator("form.action-publicize button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".toolbar .state").inner_text() == "公示中"
    sign_out(page)

    # The board: only the two changed lines, under 更正公示.
    phone.goto(f"{base}/m/villages/{VILLAGE}")
    notice = phone.locator(f"#filing-{filing_id}")
    assert "更正公示" in notice.inner_text()
    lines = notice.locator("tbody tr")
    assert lines.count() == 2
    text = notice.inner_text()
    assert "新增" in text and "取消" in text and "漏*户" in text
    assert fits(phone)
    shot(phone, "board")

    # Township and county approve once the publicity is over.
    f = db.session.get(Filing, filing_id)
    clerk, township, county = (db.session.merge(u) for u in (w.clerk, w.township, w.county))
    later = f.publicity_ends_at + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        f = workflow.perform(clerk, filing_id, "submit", version=f.version)
        db.session.commit()
        note_all_flags(township, f)
        f = workflow.perform(township, filing_id, "approve", version=f.version)
        note_all_flags(county, f)
        f = workflow.perform(county, filing_id, "approve", version=f.version)
        db.session.commit()
    assert db.session.scalar(sa.select(Recovery.amount_due)) == paid_off
    db.session.rollback()

    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=True):
        sign_in(page, base, names[0])
        page.goto(f"{base}/recoveries/")
        row = page.locator("table tbody tr").first
        assert off_name in row.inner_text() and f"{paid_off:,.2f}" in row.inner_text()
        shot(page, "recovery")
        page.goto(f"{base}/payments/projects/{project_id}/batch")
        page.get_by_role("button", name="为本项目全部已审定备案生成").click()   # confirm() answered yes
        page.wait_for_url("**/payments/batches/*")
        assert "漏报户" in page.locator("table").last.inner_text()
        shot(page, "new-payment")
        page.goto(f"{base}/dashboard?year={year}#supervision")
        block = page.locator("#supervision")
        assert block.locator("[data-figure=corrections]").inner_text() == "1"
        assert block.locator("[data-figure=recovery_due]").inner_text() == f"{paid_off:,.2f}"
        shot(page, "dashboard")

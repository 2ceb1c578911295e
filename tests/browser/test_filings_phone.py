"""Filing and review on a phone-sized screen (issue 4): the township reviewer opens the queue,
answers a risk flag with a note and approves; no page is wider than the phone, and the
printable 公示表 renders its QR code inline."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from tests.browser.staff import fits, sign_in
from tests.factories import make_county, make_user
from tests.filings_support import FilingState, make_world, walk_to

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"


def test_reviewer_on_a_phone_notes_a_flag_and_approves(live_server, phone, shot):
    make_county()
    w = make_world(3)
    w.households[0].phone = None  # one risk flag: no mobile number
    db.session.commit()
    filing = walk_to(w, FilingState.village_filed)
    filing_id, reviewer = filing.id, make_user("township_reviewer", VILLAGE[:9]).username
    db.session.rollback()  # release SQLite's write lock for the live server
    page, base = phone, live_server

    with time_machine.travel(utcnow() + timedelta(days=8), tick=True):
        sign_in(page, base, reviewer, lands=None)
        page.goto(f"{base}/filings/queue")
        assert fits(page)
        shot(page, "queue")
        page.locator("main").get_by_role("link", name="审核", exact=True).first.click()
        page.wait_for_url(f"**/filings/{filing_id}")
        assert fits(page)
        page.locator("form.answer-flag textarea").fill("已电话联系，手机号待补登")
        page.locator("form.answer-flag button[type=submit]").click()
        page.wait_for_load_state()
        assert "已电话联系" in page.locator("table.entries").inner_text()
        shot(page, "noted")
        page.locator("form.action-approve button[type=submit]").click()
        page.wait_for_url(f"{base}/filings/queue")
        page.goto(f"{base}/filings/{filing_id}")
        assert page.locator(".state").inner_text() == "乡镇已审核"
        page.goto(f"{base}/filings/{filing_id}/notice")
        assert page.locator(".notice-qr svg").count() == 1
        assert fits(page)
        shot(page, "notice")
    assert page.network.off_host(base) == []

"""The 工作台 of each role lists what waits for it, with counts and links that lead to the work;
a returned filing shows on the clerk's home page with its reason; a household's page (一户一档)
shows its entries, payments, cases and messages."""
from __future__ import annotations

from datetime import timedelta

import pytest

from subsidy.common.timeutil import utcnow
from subsidy.extensions import db as _db
from subsidy.filings.models import FilingState
from subsidy.notify.models import Message, MessageStatus
from subsidy.payments import service as payments
from tests.browser.conftest import PHONE
from tests.browser.test_staff_desktop import sign_in, sign_out
from tests.cases_support import record
from tests.factories import make_user
from tests.filings_support import act, make_world, walk_to

pytestmark = pytest.mark.browser

S = FilingState
VILLAGE = "640425100201"


def follow(page, base: str, key: str) -> str:
    """Open the item's first row link (or its heading) on the home page; return where it led."""
    page.goto(f"{base}/home")
    item = page.locator(f"#work-{key}")
    assert item.count() == 1, key
    link = item.locator(".work-rows a").first if item.locator(".work-rows a").count() else item.locator("a").first
    link.click()
    page.wait_for_load_state()
    assert "出错" not in page.title() and "不存在" not in page.locator("h1").first.inner_text()
    return page.url


def test_clerk_home_shows_the_returned_filing_and_the_household_page(live_server, desktop, shot, county):
    w = make_world(2)
    walk_to(w, S.village_filed)
    act(w.township, w.filing, "return", reason="第2户面积与登记不符，请核实")
    h = w.households[0]
    case = record(w.clerk, household_id=h.id, subject="补贴什么时候到账")
    _db.session.add(Message(key="t:browser", template="payment_paid", body="您的补贴已发放，请查收", to_phone=h.phone,
                            region_code=h.region_code, household_id=h.id, status=MessageStatus.delivered))
    _db.session.commit()
    clerk, filing_id, household_id, case_id = w.clerk.username, w.filing.id, h.id, case.id
    _db.session.rollback()
    page, base = desktop, live_server

    sign_in(page, base, clerk)
    returned = page.locator("#work-returned")
    assert returned.locator(".work-count").inner_text() == "1"
    assert "第2户面积与登记不符，请核实" in returned.inner_text() and "乡镇退回" in returned.inner_text()
    shot(page, "clerk-home")
    returned.locator(".work-rows a").first.click()
    page.wait_for_url(f"{base}/filings/{filing_id}")
    assert page.locator(".state").first.inner_text() == "草稿"

    page.goto(f"{base}/households/{household_id}")
    assert page.locator("#household-entries a", has_text=w.project.name).count() == 1
    assert "草稿" in page.locator("#household-entries").inner_text()
    assert "您的补贴已发放，请查收" in page.locator("#household-messages").inner_text()
    page.locator(f"#household-cases a[href='/cases/{case_id}']").click()
    page.wait_for_url(f"{base}/cases/{case_id}")
    shot(page, "case-from-household")

    # the home page on a phone: the list fits the screen
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/home")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    shot(page, "clerk-home-phone")


def test_each_role_home_lists_its_work_with_working_links(live_server, desktop, shot, county):
    # township: a list waiting for review; county: a batch to export and approved entries;
    # admin: units without staff, a failed SMS; supervisor: an overdue case and risk flags
    w = make_world(2)
    w.households[1].phone = None  # a risk flag (无手机号码) the reviewers have not noted
    _db.session.commit()
    walk_to(w, S.village_filed)
    paid = make_world(1, village="640425100202", name="已审定的项目")
    walk_to(paid, S.county_approved)
    payments.create_batch(paid.county, paid.project.id)
    record(w.clerk, at=utcnow() - timedelta(days=30), subject="超期的咨询", household_id=w.households[0].id)
    _db.session.add(Message(key="t:fail", template="payment_paid", body="x", to_phone=None, region_code=VILLAGE,
                            status=MessageStatus.failed, error_message="无手机号码"))
    admin = make_user("county_admin", "640425")
    supervisor = make_user("supervisor", "640425")
    _db.session.commit()
    names = {"township": w.township.username, "county": paid.county.username, "admin": admin.username,
             "supervisor": supervisor.username}
    filing_id, household_id, paid_household = w.filing.id, w.households[0].id, paid.households[0].id
    _db.session.rollback()
    page, base = desktop, live_server

    sign_in(page, base, names["township"])
    assert follow(page, base, "to_review") == f"{base}/filings/{filing_id}"
    assert "/cases/" in follow(page, base, "cases_overdue")
    shot(page, "township-case")
    sign_out(page)

    sign_in(page, base, names["county"])
    assert "/payments/batches/" in follow(page, base, "batches_to_export")
    sign_out(page)

    sign_in(page, base, names["admin"])
    assert follow(page, base, "units_without_staff").endswith("/users/new")
    page.goto(f"{base}/home")
    page.locator("#work-sms_failed a.work-head").click()
    page.wait_for_url("**/sms/problems")
    assert page.locator("main").get_by_text("无手机号码").count() >= 1
    sign_out(page)

    sign_in(page, base, names["supervisor"])
    shot(page, "supervisor-home")
    assert "/cases/" in follow(page, base, "to_escalate")
    assert follow(page, base, "risk_flagged") == f"{base}/filings/{filing_id}"
    page.goto(f"{base}/households/{household_id}")
    assert page.locator("#household-entries").get_by_text("村级已备案").count() == 1
    assert page.locator("#household-cases a").count() == 1
    page.goto(f"{base}/households/{paid_household}")
    payments_card = page.locator("#household-payments")
    assert "待回盘" in payments_card.inner_text() and "已审定的项目" in payments_card.inner_text()
    payments_card.locator("a").first.click()
    page.wait_for_url("**/payments/batches/*")
    shot(page, "batch-from-household")

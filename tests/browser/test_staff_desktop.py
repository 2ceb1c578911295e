"""Staff at a desktop (issue 6): a village clerk files a project's list (start the filing, add
every household, publicize, and after the publicity period file it), and the township
reviewer approves it from the queue."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from subsidy.common.timeutil import utcnow
from tests.browser.staff import sign_in, sign_out
from tests.factories import HouseholdFactory, ProjectFactory, make_county, make_user

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"


def test_village_clerk_files_and_township_reviewer_approves(live_server, desktop, shot, db):
    make_county()
    HouseholdFactory.create_batch(3, region_code=VILLAGE)
    project = ProjectFactory(name="耕地地力保护补贴", year=2017, publicity_days=7)
    clerk = make_user("village_clerk", VILLAGE)
    reviewer = make_user("township_reviewer", VILLAGE[:9])
    project_id, clerk_name, reviewer_name = project.id, clerk.username, reviewer.username
    db.session.rollback()  # release SQLite's write lock for the live server
    page, base = desktop, live_server

    # the clerk starts the filing, adds every household and publicizes
    sign_in(page, base, clerk_name)
    page.goto(f"{base}/filings/")
    page.select_option("select[name=project_id]", str(project_id))
    page.get_by_role("button", name="发起本村备案").click()
    page.wait_for_url("**/filings/*")
    filing_url = page.url
    page.get_by_role("button", name="一键添加本村全部农户").click()
    page.wait_for_load_state()
    assert page.locator(".tile .num").first.inner_text().strip() == "3"
    shot(page, "clerk-list")
    page.locator("form.action-publicize button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".state").inner_text() == "公示中"
    assert page.dialogs and "公示" in page.dialogs[-1]  # asked first (data-confirm, static/js/app.js)
    shot(page, "clerk-publicized")

    # eight days later: the publicity period is over
    with time_machine.travel(utcnow() + timedelta(days=8), tick=True):
        sign_in(page, base, clerk_name)  # the old session is older than the session lifetime
        page.goto(filing_url)
        page.locator("form.action-submit button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator(".state").inner_text() == "村级已备案"
        sign_out(page)

        # the township reviewer finds it in the queue and approves it
        sign_in(page, base, reviewer_name)
        page.goto(f"{base}/filings/queue")
        shot(page, "reviewer-queue")
        page.locator("main").get_by_role("link", name="审核", exact=True).first.click()
        page.wait_for_url(filing_url)
        shot(page, "reviewer-review")
        page.locator("form.action-approve button[type=submit]").click()
        page.wait_for_url(f"{base}/filings/queue")       # back to the queue, now empty
        assert page.locator("main").get_by_role("link", name="审核", exact=True).count() == 0
        page.goto(filing_url)
        assert page.locator(".state").inner_text() == "乡镇已审核"
        shot(page, "reviewer-approved")

    assert page.network.off_host(base) == []


def test_the_dashboard_draws_its_charts_under_the_content_security_policy(live_server, desktop, db):
    make_county()
    admin = make_user("county_admin")
    name = admin.username
    db.session.rollback()
    sign_in(desktop, live_server, name)
    desktop.goto(f"{live_server}/dashboard")
    desktop.wait_for_selector("#chart-projects svg")
    assert desktop.locator("#chart-regions svg").count() == 1

"""Staff at a desktop (issue 6): a village clerk files a project's list (start the filing, add
every household, publicize, and after the publicity period file it), and the township
reviewer approves it from the queue."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from subsidy.common.timeutil import utcnow
from subsidy.materials import service as materials
from subsidy.projects.models import Category, Unit
from tests.browser.staff import fits, sign_in, sign_out
from tests.factories import HouseholdFactory, ProjectFactory, make_county, make_user
from tests.filings_support import T0, FilingState, make_world, walk_to
from tests.test_materials import _entries

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


def test_the_township_table_fits_a_1366_screen_with_the_widest_figures(live_server, desktop, phone, db, shot):
    """Issue 16: the dashboard's table ran off a 1366 px laptop screen. Filled with the widest
    figures a county's cells take (hundreds of millions of yuan, four-digit counts), it must
    still fit without a sideways scroll; on a phone, the charts' axis labels must not overlap."""
    make_county()
    # Two projects of tens of millions approved: the axis of the projects chart then carries
    # eight-digit labels, the ones that collided on a phone.
    for name in ("耕地地力保护补贴", "农村危房改造补助"):
        w = make_world(3, name=name, rate=Decimal("1000000.00"), budget=Decimal("900000000.00"), year=T0.year)
        walk_to(w, FilingState.county_approved)
    # A material list half handed out: the 实物发放 block, its three tables and its goods tiles.
    goods = make_world(3, name="地膜覆盖补贴", category=Category.material, unit=Unit.household, item="地膜",
                       item_unit="卷", rate=Decimal("1.50"), year=T0.year)
    walk_to(goods, FilingState.county_approved)
    materials.record_receipt(goods.township, goods.project.id, "640425100", "3.00", T0.date(), "某农资公司", "RK-1")
    materials.record_pickup(goods.clerk, goods.filing.id, _entries(goods)[0].id, "1.50", T0.date(), "self")
    supervisor = make_user("supervisor")
    name = supervisor.username
    db.session.commit()
    db.session.rollback()
    sign_in(desktop, live_server, name)
    desktop.goto(f"{live_server}/dashboard?year={T0.year}")
    desktop.wait_for_selector("#chart-regions svg")
    assert desktop.locator("table.dash-table tbody tr").count() >= 2
    assert desktop.locator("#materials table.dash-table").count() == 3
    desktop.evaluate("""() => {
        for (const td of document.querySelectorAll('table.dash-table td.num, table.dash-table tfoot th.num')) {
            td.textContent = td.textContent.includes('.') && !td.textContent.includes('%') ? '123,456,789.00'
                : td.textContent.includes('%') ? '100.0%' : '8,888';
        }
        for (const a of document.querySelectorAll('table.dash-table tbody td:first-child a')) {
            a.textContent = '红河镇（乡）';
        }
    }""")
    wraps = desktop.evaluate("""() => [...document.querySelectorAll('table.dash-table')].map(t => {
        const w = t.parentElement; return [t.closest('.card').id, w.scrollWidth, w.clientWidth]; })""")
    assert [w for w in wraps if w[1] > w[2] + 1] == [], wraps
    assert fits(desktop)
    assert _spilled_tiles(desktop) == []  # 75,000,000.00 stays inside its tile
    shot(desktop, "dashboard-1366")

    sign_in(phone, live_server, name)
    phone.goto(f"{live_server}/dashboard?year={T0.year}")
    for chart in ("#chart-projects", "#chart-regions", "#chart-months"):
        phone.wait_for_selector(f"{chart} svg")
        overlaps = phone.evaluate("""(sel) => {
            const boxes = [...document.querySelectorAll(sel + ' svg text')].filter(t => t.textContent.trim())
                .map(t => t.getBoundingClientRect()).filter(r => r.width > 0);
            let n = 0;
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i], b = boxes[j];
                if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
            }
            return n; }""", chart)
        assert overlaps == 0, chart
    assert fits(phone) and _spilled_tiles(phone) == []
    shot(phone, "dashboard-phone")


def _spilled_tiles(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('.dash-tiles .tile .num')]
        .filter(n => n.scrollWidth > n.clientWidth + 1 || n.getClientRects().length > 1
                     || n.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(n).fontSize))
        .map(n => n.dataset.figure)""")

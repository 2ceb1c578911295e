"""The city's dashboard in a browser: a city supervisor of the demo city 固原市 sees a row per
county, the charts drawn, the page fitting a 1366 px screen, and follows a county's row down to
that county's dashboard and back up."""
from __future__ import annotations

import pytest

from tests.browser.staff import fits, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def test_a_city_supervisor_drills_down_from_the_city_to_a_county(live_server, desktop, shot, db):
    from subsidy.demo import load_demo

    load_demo(households_per_village=3)
    db.session.commit()
    name = make_user("city_supervisor", "6404").username
    db.session.rollback()  # release SQLite's write lock for the live server
    page, base = desktop, live_server
    sign_in(page, base, name)
    page.goto(f"{base}/dashboard")
    page.wait_for_selector("#chart-regions svg")
    assert "固原市" in page.locator("h1").inner_text()
    counties = page.locator("table.dash-table").first.locator("tbody tr td:first-child a")
    assert counties.all_inner_texts() == ["原州区", "西吉县", "隆德县", "泾源县", "彭阳县"]
    assert fits(page)
    shot(page, "city-dashboard-1366")
    counties.last.click()
    page.wait_for_url("**region_code=640425**")
    assert "彭阳县" in page.locator("h1").inner_text()
    page.locator("#up").click()
    page.wait_for_url("**region_code=6404**")
    assert "固原市" in page.locator("h1").inner_text()

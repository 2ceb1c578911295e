"""The city's assessment page (考核) on a phone: the ranked table scrolls inside its frame, the
page itself fits; the period chooser moves to a quarter; the city admin saves the weights."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from subsidy.cases.models import CaseState
from subsidy.extensions import db
from tests.browser.conftest import PHONE  # noqa: F401 (the phone fixture's size)
from tests.browser.staff import fits, sign_in
from tests.factories import CaseFactory, make_city, make_county, make_user

pytestmark = pytest.mark.browser


def test_city_admin_reads_the_ranking_on_a_phone_and_sets_the_weights(live_server, phone, shot):
    make_county()
    make_city()
    year = datetime.now(UTC).year
    received = datetime(year, 1, 10, 2, 0, tzinfo=UTC)
    for county, done in (("640425", True), ("640402", False)):
        CaseFactory(region_code=county + "100201", assigned_region_code=county + "100", received_at=received,
                    due_at=received + timedelta(days=3), state=CaseState.replied if done else CaseState.received,
                    replied_at=received + timedelta(days=1) if done else None)
    admin = make_user("city_admin", "6404").username
    db.session.commit()
    db.session.rollback()  # release SQLite's write lock for the live server
    page, base = phone, live_server

    sign_in(page, base, admin, lands=None)
    page.goto(f"{base}/stats/assessment")
    rows = page.locator("table.assessment tbody tr")
    assert rows.count() == 5
    assert rows.first.get_attribute("data-region") == "640425"
    assert rows.first.locator("[data-figure=rank]").inner_text() == "1"
    assert fits(page)
    shot(page, "assessment")

    page.select_option("#quarter", "1")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url("**quarter=1**")
    assert "第 1 季度" in page.locator("h1").inner_text()

    page.fill("#w-mobile_rate", "0")
    page.get_by_role("button", name="保存权重").click()
    page.wait_for_load_state()
    assert "考核权重已保存" in page.content()
    assert "手机端覆盖率" not in page.locator("table.assessment thead").inner_text()
    assert fits(page)

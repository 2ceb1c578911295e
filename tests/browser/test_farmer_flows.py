"""A farmer on a phone finds the village board from "my subsidies" and from the home page's
picker (township, then village), and a refused rating keeps the choice with the error beside it."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from tests.browser.staff import sign_in_farmer
from tests.factories import HouseholdFactory, ProjectFactory, approved_filing, make_county, make_user

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"
MONDAY = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in China, a working day


def test_farmer_reaches_the_village_board_from_my_page_and_from_the_picker(live_server, phone, shot, db):
    make_county()
    farmer = HouseholdFactory(region_code=VILLAGE, head_name="张建华", phone="13800138001")
    approved_filing(VILLAGE, project=ProjectFactory(name="地膜补贴", year=2024), state="publicizing")
    id_number, mobile = farmer.id_number, farmer.phone
    db.session.commit()
    db.session.rollback()

    # a visitor, not signed in: home → 村公示栏 → township → village; no second sign-in tile
    phone.goto(f"{live_server}/m/")
    assert phone.locator("a[href^='/m/login']").count() == 0
    phone.click("#boards")
    phone.wait_for_url("**/m/villages")
    phone.get_by_role("link", name="白阳镇").click()
    shot(phone, "villages")
    phone.get_by_role("link", name="白阳镇201村").click()
    phone.wait_for_url(f"**/m/villages/{VILLAGE}")
    assert "正在公示" in phone.inner_text("main")

    # signed in: my page links my own village's board
    sign_in_farmer(phone, live_server, db, id_number, mobile)
    shot(phone, "me")
    phone.click("#my-board")
    phone.wait_for_url(f"**/m/villages/{VILLAGE}")
    assert phone.locator("h1").inner_text().startswith("白阳镇201村")
    assert "地膜补贴" in phone.inner_text("main")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    shot(phone, "board")


def test_a_refused_rating_shows_the_error_beside_the_field_and_keeps_the_choice(live_server, phone, shot, db):
    with time_machine.travel(MONDAY, tick=True):
        make_county()
        farmer = HouseholdFactory(region_code=VILLAGE, head_name="张建华", phone="13800138001")
        id_number, mobile = farmer.id_number, farmer.phone
        db.session.commit()
        db.session.rollback()
        sign_in_farmer(phone, live_server, db, id_number, mobile)
        phone.goto(f"{live_server}/m/cases/new?kind=complaint")
        phone.fill("#subject", "补贴金额不对")
        phone.fill("#body", "我家承包地是 13 亩，名单上是 12.5 亩。")
        phone.click("#submit-case")
        ref_no = phone.locator("#ref-no").inner_text()

        from subsidy.cases import service as cases
        from subsidy.cases.models import Case, CaseState

        case_id = db.session.scalar(sa.select(Case.id).where(Case.ref_no == ref_no))
        cases.reply_case(make_user("township_reviewer", VILLAGE[:9]), case_id, "已到村核实。", "substantiated")
        db.session.commit()
        db.session.rollback()

        phone.goto(f"{live_server}/m/me#cases")
        card = phone.locator(f"#case-{case_id}")
        card.locator("input[name=rating][value=dissatisfied]").check()
        card.get_by_role("button", name="提交评价").click()
        phone.wait_for_url(f"**/m/cases/{case_id}/rating#rating-{case_id}")
        card = phone.locator(f"#case-{case_id}")
        error = card.locator(f"#comment-error-{case_id}")
        assert "请说明不满意的原因" in error.inner_text()
        assert card.locator("input[name=rating][value=dissatisfied]").is_checked()
        # beside the field: right under the comment box, and on the screen the farmer sees
        box, err = card.locator("textarea").bounding_box(), error.bounding_box()
        assert 0 <= err["y"] - (box["y"] + box["height"]) < 40
        top = phone.evaluate(f"document.getElementById('comment-error-{case_id}').getBoundingClientRect().top")
        assert 0 <= top < 740, top
        shot(phone, "rating-error")
        card.locator("textarea").fill("差额还没补发。")
        card.get_by_role("button", name="提交评价").click()
        phone.wait_for_url("**/m/me**")
        db.session.expire_all()
        assert db.session.get(Case, case_id).state is CaseState.in_progress
        db.session.rollback()

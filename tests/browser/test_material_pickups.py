"""实物补贴 on a 360×740 phone (docs/design.md "Material subsidies"): the village clerk records
pickups on the distribution page (a proxy without a name is refused beside the field, with what
was typed kept), then the farmer confirms one pickup on "my subsidies" and denies the other,
which files a complaint for the county after a confirmation page."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.cases.models import Case
from subsidy.common.timeutil import local_today
from subsidy.extensions import db
from subsidy.materials import service
from subsidy.materials.models import MaterialPickup
from subsidy.payments.models import ReceiptAnswer
from tests.browser.staff import fits, sign_in, sign_in_farmer
from tests.test_materials import _entries, _world

pytestmark = pytest.mark.browser


def _record(page, entry_id: int, quantity: str, day: str, proxy: tuple[str, str] | None = None) -> None:
    card = page.locator(f"#entry-{entry_id}")
    card.locator("summary", has_text="登记领取").click()
    card.locator(f"#quantity-{entry_id}").fill(quantity)
    card.locator(f"#received_on-{entry_id}").fill(day)
    card.locator(f"#receiver-{entry_id}").select_option("proxy" if proxy is not None else "self")
    if proxy is not None:
        card.locator(f"#proxy_name-{entry_id}").fill(proxy[0])
        card.locator(f"#proxy_relation-{entry_id}").fill(proxy[1])
    with page.expect_navigation():
        card.get_by_role("button", name="登记领取").click()


def test_the_clerk_records_pickups_on_a_phone_and_the_farmer_answers_each(live_server, phone, shot, county):
    w = _world(2, price=Decimal("30.00"))
    e = _entries(w)
    service.record_receipt(w.township, w.project.id, "640425100", "10.00", local_today(), "某某农资公司", "RK-001")
    first_id, second_id = e[0].id, e[1].id
    farmer = w.households[0]
    id_number, mobile, clerk = farmer.id_number, farmer.phone, w.clerk.username
    filing_id = w.filing.id
    db.session.commit()
    db.session.rollback()  # let go of the database: the server writes from here
    page, base, today = phone, live_server, local_today().isoformat()

    sign_in(page, base, clerk)
    page.goto(f"{base}/materials/filings/{filing_id}")
    assert fits(page), "the distribution page scrolls sideways on a phone"
    _record(page, first_id, "0.50", today)
    assert "已登记领取" in page.inner_text("main")
    # a proxy without a name: refused beside the field, the quantity typed kept
    card = page.locator(f"#entry-{first_id}")
    card.locator("summary", has_text="登记领取").click()
    card.locator(f"#quantity-{first_id}").fill("1.00")
    card.locator(f"#received_on-{first_id}").fill(today)
    card.locator(f"#receiver-{first_id}").select_option("proxy")
    with page.expect_navigation():
        card.get_by_role("button", name="登记领取").click()
    card = page.locator(f"#entry-{first_id}")
    assert card.locator(f"#quantity-{first_id}").input_value() == "1.00"
    assert "代领人姓名" in card.locator(".has-error").first.inner_text()
    assert fits(page)
    shot(page, "proxy-refused")
    card.locator(f"#proxy_name-{first_id}").fill("李四")
    card.locator(f"#proxy_relation-{first_id}").fill("邻居")
    with page.expect_navigation():
        card.get_by_role("button", name="登记领取").click()
    _record(page, second_id, "1.50", today)
    assert "已领取" in page.locator(f"#entry-{first_id}").inner_text()
    assert "代领 李四（邻居）" in page.locator(f"#entry-{first_id}").inner_text()
    assert page.dialogs, "a pickup is recorded only after a confirmation"
    shot(page, "recorded")
    assert fits(page)

    # the farmer, on the same phone (the farmers' sign-in is their own, whoever else is signed
    # in): 我已领取 on the first pickup, 没有领到 on the proxy's
    sign_in_farmer(page, base, db, id_number, mobile)
    pickups = db.session.scalars(sa.select(MaterialPickup.id).where(MaterialPickup.entry_id == first_id)
                                 .order_by(MaterialPickup.id)).all()
    db.session.rollback()
    mine, proxy = pickups
    text = page.inner_text("main")
    assert "地膜" in text and "一卡通" not in text and "应领 1.50 卷，已领 1.50 卷" in text
    assert fits(page)
    shot(page, "farmer-me")
    with page.expect_navigation():
        page.locator(f"#pickup-{mine}").get_by_role("button", name="我已领取").click()
    assert "您已确认领取" in page.locator(f"#pickup-{mine}").inner_text()
    with page.expect_navigation():
        page.locator(f"#pickup-{proxy}").get_by_role("button", name="没有领到").click()
    assert "确定没有领到" in page.inner_text("main") and "李四" in page.inner_text("main")
    assert fits(page)
    page.fill("#note", "我没有让人代领")
    with page.expect_navigation():
        page.get_by_role("button", name="确定没有领到").click()
    assert "已登记“没有领到”" in page.inner_text("main")
    assert "您已反映没有领到" in page.locator(f"#pickup-{proxy}").inner_text()
    shot(page, "farmer-denied")

    answers = dict(db.session.execute(sa.select(MaterialPickup.id, MaterialPickup.receipt)
                                      .where(MaterialPickup.id.in_(pickups))).all())
    assert answers == {mine: ReceiptAnswer.confirmed, proxy: ReceiptAnswer.denied}
    case = db.session.scalar(sa.select(Case).where(Case.household_id == farmer.id))
    assert case is not None and case.assigned_region_code == "640425" and "我没有让人代领" in case.body
    db.session.rollback()

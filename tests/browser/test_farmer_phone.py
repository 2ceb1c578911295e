"""A farmer on a 360×740 phone (issue 6): scans the QR on the village notice board, reads the
board, signs in with the code from the SMS, sees the subsidy the county approved, complains,
and rates the reply. Nothing on the way is fetched from another host."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import HouseholdFactory, ProjectFactory, approved_filing, make_county, make_user
from tests.farmer_support import code_sent_to

pytestmark = pytest.mark.browser

VILLAGE = "640425100201"
MONDAY = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # 10:00 in China


def scan(page, qr_url: str) -> str:
    """Show the QR code the way a poster does and read it back from the pixels (zxing-cpp)."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp is in requirements-dev.txt")
    from PIL import Image

    page.set_content(f'<body style="margin:0;background:#fff"><img id="qr" src="{qr_url}" '
                     'style="width:300px;height:300px"></body>')
    page.wait_for_function("document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0")
    png = page.locator("#qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, "the QR code could not be read"
    return found[0].text


def release(db) -> None:
    """End the test thread's transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE
    outside a request, see subsidy.common.database), which the live server's requests need."""
    db.session.rollback()


def latest_code(db, phone_number: str) -> str:
    """The code as the farmer's phone gets it (the outbox keeps it masked; see tests/farmer_support)."""
    return code_sent_to(db, phone_number)


def test_farmer_scans_signs_in_sees_the_approved_subsidy_complains_and_rates(live_server, phone, shot, db):
    # A Monday of a year on China's working-day calendar: the complaint's deadline needs one.
    with time_machine.travel(MONDAY, tick=True):
        _farmer_journey(live_server, phone, shot, db)


def _farmer_journey(live_server, page, shot, db):
    make_county()
    farmer = HouseholdFactory(region_code=VILLAGE, head_name="张建华", phone="13800138001",
                              payout_account="6231000000000001234")
    HouseholdFactory(region_code=VILLAGE, head_name="李秀英")
    filing = approved_filing(VILLAGE, project=ProjectFactory(name="耕地地力保护补贴", year=2024))
    assert filing.state.value == "county_approved"
    filing_id, id_number, mobile = filing.id, farmer.id_number, farmer.phone
    reviewer = make_user("township_reviewer", VILLAGE[:9])
    release(db)

    # 1. the poster's QR code leads to the village board
    board_url = scan(page, f"{live_server}/qr/villages/{VILLAGE}.svg")
    assert board_url == f"{live_server}/m/villages/{VILLAGE}"
    page.goto(board_url)
    assert page.locator("h1").inner_text().startswith("白阳镇201村")
    approved = page.locator(f"#filing-{filing_id}")
    approved.locator("summary").click()
    assert "张*华" in approved.inner_text() and id_number not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
    shot(page, "board")

    # 2. sign in: ID number + mobile, then the code from the SMS
    page.get_by_role("link", name="查我的补贴").first.click()
    page.wait_for_url("**/m/login**")
    page.fill("#id_number", id_number)
    page.fill("#phone", mobile)
    shot(page, "login")
    page.click("#send-code")
    page.wait_for_url("**/m/login")
    assert "138****8001" in page.inner_text("main")
    page.fill("#code", latest_code(db, mobile))
    shot(page, "code")
    page.click("#verify")
    page.wait_for_url("**/m/me")

    # 3. my subsidies: the approved entry in farmer words, and the approval SMS
    card = page.locator(".subsidy").first
    assert "耕地地力保护补贴" in card.inner_text() and "县级已审定" in card.inner_text()
    assert "已经县级审定" in page.inner_text("main")   # the SMS the county's approval sent
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "my-subsidies")

    # 4. a complaint
    page.get_by_role("link", name="我要咨询 / 投诉").last.click()
    page.wait_for_url("**/m/cases/new")
    page.check("input[name=kind][value=complaint]")
    page.fill("#subject", "补贴金额不对")
    page.fill("#body", "我家承包地是 13 亩，名单上是 12.5 亩。")
    shot(page, "complaint")
    page.click("#submit-case")
    ref_no = page.locator("#ref-no").inner_text()
    assert ref_no.startswith("TS-2024-")
    shot(page, "complaint-sent")

    # the township answers it (through the cases service, as its staff page does)
    from subsidy.cases import service as cases
    from subsidy.cases.models import Case

    case_id = db.session.scalar(sa.select(Case.id).where(Case.ref_no == ref_no))
    cases.reply_case(reviewer, case_id, "已到村核实，按 13 亩补发差额。", "substantiated")
    db.session.commit()
    release(db)

    # 5. the reply, and the rating
    page.goto(f"{live_server}/m/me#cases")
    case_card = page.locator(f"#case-{case_id}")
    assert "按 13 亩补发差额" in case_card.inner_text()
    assert "经核查，您反映的问题属实" in case_card.locator(".finding").inner_text()   # the finding, in plain words
    case_card.locator("input[name=rating][value=very_satisfied]").check()
    shot(page, "reply")
    case_card.get_by_role("button", name="提交评价").click()
    page.wait_for_url("**/m/me**")
    assert "您的评价：非常满意" in page.locator(f"#case-{case_id}").inner_text()
    shot(page, "rated")
    db.session.expire_all()
    assert db.session.get(Case, case_id).rating.value == "very_satisfied"
    release(db)

    # nothing on any page was fetched from another host
    assert page.network.requests, "the network log is empty"
    assert page.network.off_host(live_server) == []
    assert any(url.endswith("/static/css/mobile.css") for _, url in page.network.requests)


def test_every_mobile_page_fits_a_phone_and_loads_nothing_from_elsewhere(live_server, phone, shot, db):
    """Each page under /m/ at 360×740: no sideways scrolling, and the network log holds only
    this host, even for a policy whose text tries to load an image from another one."""
    from datetime import datetime

    from subsidy.policies.models import PolicyStatus
    from tests.factories import PolicyFactory

    make_county()
    HouseholdFactory(region_code=VILLAGE)
    approved_filing(VILLAGE, project=ProjectFactory(name="地膜补贴", year=2017), state="publicizing")
    policy = PolicyFactory(title="耕地地力保护补贴实施方案", status=PolicyStatus.published,
                           published_at=datetime(2017, 3, 1, tzinfo=UTC),
                           body="## 补贴对象\n\n![外部图片](http://203.0.113.7/track.png)\n\n"
                                "| 项目 | 标准 |\n|---|---|\n"
                                "| 耕地地力保护补贴 | 每亩 105.00 元 |\n\n" + "拥有承包耕地的农户。" * 30,
                           interpretation="**谁能领？** 承包耕地的农户。")
    db.session.commit()
    policy_id = policy.id
    release(db)
    pages = {"home": "/m/", "policies": "/m/policies", "policy": f"/m/policies/{policy_id}",
             "board": f"/m/villages/{VILLAGE}", "login": "/m/login", "phone-login": "/m/login?mode=phone",
             "ask": "/m/cases/new"}
    for name, path in pages.items():
        response = phone.goto(live_server + path)
        assert response.status == 200, path
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (path, width)
        shot(phone, name)
    assert phone.network.off_host(live_server) == []
    assert not any("203.0.113.7" in url for _, url in phone.network.requests)

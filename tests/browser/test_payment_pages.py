"""The payment pages a new user stumbled on, in a real browser: a county admin opening 发放 is
told who makes batches and offered nothing they cannot submit; the county reviewer re-issuing
failures is shown, before anything happens, the ones whose account nobody corrected, and
chooses; a clerk sees the failures of their village with village names and corrected accounts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.payments.models import Payment
from tests.browser.staff import fits, sign_in, sign_out
from tests.factories import make_user
from tests.payments_support import approved_world, payments_of, post_results

pytestmark = pytest.mark.browser


def _two_failures(api_as):
    """Two failed payments of one project; the village corrected the second one's account."""
    w = approved_world(2)
    api = api_as("county_reviewer")
    batch = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(batch["id"])
    r = post_results(api, batch["id"], [(p[0].disbursement_id, "失败", "户名不符", "", str(p[0].amount)),
                                        (p[1].disbursement_id, "失败", "账号不存在", "", str(p[1].amount))])
    assert r.status_code == 200, r.json
    db.session.get(Household, p[1].household_id).payout_account = "6231999988887777666"
    db.session.commit()
    return w, p[0].head_name, p[1].head_name


def test_a_reissue_lists_the_uncorrected_failures_and_asks(live_server, desktop, api_as, shot):
    w, uncorrected, corrected = _two_failures(api_as)
    reviewer = make_user("county_reviewer")
    db.session.commit()
    username = reviewer.username
    db.session.rollback()
    page, base = desktop, live_server

    sign_in(page, base, username)
    page.goto(f"{base}/payments/failed")
    rows = page.locator("table tbody tr")
    assert rows.count() == 2
    assert "白阳镇201村" in rows.first.inner_text()               # the village's name, not its code
    assert "已更正" in page.locator("tr", has_text=corrected).inner_text()
    page.get_by_role("button", name="重新发放所选").click()      # confirm() answered yes
    page.wait_for_load_state()
    assert page.dialogs and "重新发放" in page.dialogs[-1]
    warning = page.locator("#uncorrected-warning")
    assert "1 笔" in warning.inner_text() and "未更正" in warning.inner_text()
    listed = page.locator("tr.uncorrected")
    assert listed.count() == 1 and uncorrected in listed.inner_text() and "户名不符" in listed.inner_text()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.reissue_of_id.is_not(None))) == 0   # nothing yet
    db.session.rollback()  # let go of the database before the server writes
    assert fits(page)
    shot(page, "reissue-confirm")
    page.get_by_role("button", name="不列入这 1 笔").click()
    page.wait_for_url("**/payments/batches/*")
    assert "已生成重新发放批次" in page.locator(".flash-success").inner_text()
    db.session.rollback()
    redo = db.session.scalars(sa.select(Payment).where(Payment.reissue_of_id.is_not(None))).all()
    assert [x.head_name for x in redo] == [corrected] and redo[0].payout_account == "6231999988887777666"
    db.session.rollback()
    shot(page, "reissued")
    # The uncorrected one still waits, and is asked about again.
    page.goto(f"{base}/payments/failed")
    assert page.locator("table tbody tr").count() == 1
    sign_out(page)


def test_a_county_admin_is_told_who_makes_batches(live_server, phone, api_as, shot):
    _w, _u, _c = _two_failures(api_as)
    admin = make_user("county_admin")
    db.session.commit()
    username = admin.username
    db.session.rollback()
    page, base = phone, live_server

    sign_in(page, base, username)
    page.goto(f"{base}/payments/")
    hint = page.locator("#payments-hint")
    assert "县级审核员" in hint.inner_text() and hint.is_visible()
    assert page.get_by_role("link", name="生成发放批次").count() == 0
    assert page.get_by_role("button", name="生成发放批次").count() == 0
    assert fits(page)
    shot(page, "admin-hint")
    page.goto(f"{base}/payments/failed")
    assert page.locator("input[name=payment_ids]").count() == 0   # nothing to tick
    assert "重新发放由县级审核员操作" in page.locator("main").inner_text()
    assert fits(page)

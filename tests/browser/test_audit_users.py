"""Staff at 1366 px: the county admin edits a user, a supervisor reads the audit log in words
(the change as 字段: 原值 → 新值, the object linked) and presses 校验; a new user must choose
their own password before any other page opens."""
from __future__ import annotations

import pytest

from tests.browser.staff import sign_in, sign_out
from tests.factories import HouseholdFactory, make_county, make_user

pytestmark = pytest.mark.browser


def test_an_edited_user_reads_in_the_audit_log_and_the_supervisor_verifies_it(live_server, desktop, shot, db):
    from subsidy.audit.service import record

    make_county()
    admin = make_user("county_admin", "640425")
    supervisor = make_user("supervisor", "640425")
    clerk = make_user("village_clerk", "640425100201")
    household = HouseholdFactory(region_code="640425100201", phone="13909540001")
    record(admin, "household.update", "household", household.id, region_code="640425100201",
           before={"phone": "13909540001"}, after={"phone": "13909540002"})
    admin_name, supervisor_name, clerk_id, household_id = admin.username, supervisor.username, clerk.id, household.id
    db.session.commit()
    db.session.rollback()

    # the county admin gives the clerk a phone number from the users' list
    page = desktop
    sign_in(page, live_server, admin_name)
    page.goto(f"{live_server}/users")
    page.locator(f"a[href='/users/{clerk_id}/edit']").click()
    page.fill("#phone", "1390954")
    page.get_by_role("button", name="保存").click()
    assert "手机" in page.locator(".field.has-error").inner_text()   # beside the field, kept
    assert page.input_value("#phone") == "1390954"
    page.fill("#phone", "13909541234")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{live_server}/users")
    assert "13909541234" in page.inner_text("table")
    sign_out(page)

    # the supervisor reads the log in words
    sign_in(page, live_server, supervisor_name)
    page.goto(f"{live_server}/audit/")
    row = page.locator("tr", has=page.locator("td.action[title='household.update']")).first
    assert "修改农户信息" in row.inner_text() and "手机号码：13909540001 → 13909540002" in row.inner_text()
    assert row.locator(f"a[href='/households/{household_id}']").count() == 1
    page.select_option("#f-action", "user.")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**action=user.**")
    user_row = page.locator("tr", has=page.locator("td.action[title='user.update']")).first
    assert "修改用户信息" in user_row.inner_text() and "手机号码：（空） → 13909541234" in user_row.inner_text()
    assert page.locator("td.action[title='household.update']").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot(page, "audit-readable")

    page.click("#verify-chain")
    assert "审计日志完整" in page.locator("#verification").inner_text()
    shot(page, "audit-verified")
    page.goto(f"{live_server}/audit/?action=audit.verify")
    assert "校验审计日志" in page.locator("td.action").first.inner_text()


def test_a_new_user_chooses_their_own_password_at_first_sign_in(live_server, desktop, shot, db):
    make_county()
    admin_name = make_user("county_admin", "640425").username
    db.session.commit()
    db.session.rollback()
    page = desktop
    sign_in(page, live_server, admin_name)
    page.goto(f"{live_server}/users/new")
    page.fill("#username", "clerk201")
    page.fill("#name", "李会计")
    page.select_option("#role", "village_clerk")
    page.select_option("#region_code", "640425100201")
    page.fill("#phone", "13909541234")
    page.fill("#password", "Baiyang-zhen-7")
    page.get_by_role("button", name="创建").click()
    page.wait_for_url(f"{live_server}/users")
    assert "待本人改密码" in page.inner_text("table")
    sign_out(page)

    sign_in(page, live_server, "clerk201", "Baiyang-zhen-7", lands="/account/password")
    assert page.locator("#must-change").is_visible()
    page.goto(f"{live_server}/households/")
    page.wait_for_url(f"{live_server}/account/password")
    shot(page, "must-change")
    page.fill("#current_password", "Baiyang-zhen-7")
    page.fill("#new_password", "Gaoshan-liushui-9")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{live_server}/home")
    page.goto(f"{live_server}/households/")
    assert page.url == f"{live_server}/households/"

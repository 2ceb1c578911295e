"""What the browser tests do over and over: sign a staff user or a farmer in, sign out, and check a
page fits."""
from __future__ import annotations

from tests.conftest import PASSWORD
from tests.farmer_support import code_sent_to


def sign_in(page, base: str, username: str, password: str = PASSWORD, lands: str | None = "/home") -> None:
    """Sign in on the login page; wait for `lands` (None: for the page to load)."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="登录").click()
    if lands is None:
        page.wait_for_load_state()
    else:
        page.wait_for_url(f"{base}{lands}")


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")


def fits(page) -> bool:
    """No wider than the window: nothing to scroll sideways on a phone."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def sign_in_farmer(page, base: str, db, id_number: str, mobile: str) -> None:
    """A farmer's way in from "my subsidies": ID number and phone, the code from the SMS."""
    page.goto(f"{base}/m/me")
    page.wait_for_url("**/m/login**")
    page.fill("#id_number", id_number)
    page.fill("#phone", mobile)
    page.click("#send-code")
    page.fill("#code", code_sent_to(db, mobile))
    db.session.rollback()  # the code was read in a transaction: let go of the database
    page.click("#verify")
    page.wait_for_url("**/m/me")

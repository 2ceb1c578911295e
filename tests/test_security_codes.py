"""No staff member can read a farmer's sign-in code (security probe, finding 1): a village clerk
with every staff page and API at hand, and an admin reading every table of the database, find
the code nowhere; it reaches only the gateway. And what a farmer's session does is audited as
that farmer, with the address it came from."""
from __future__ import annotations

import json
import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from subsidy.audit.models import AuditEvent
from subsidy.notify import sealed
from subsidy.notify.models import Message
from tests.factories import HouseholdFactory, make_user
from tests.farmer_support import code_sent_to

VILLAGE = "640425100201"
HREF = re.compile(r'(?:href|action|src)="([^"#]+)"')


@pytest.fixture(autouse=True)
def _no_padding(app, monkeypatch):
    monkeypatch.setitem(app.config, "MOBILE_CODE_MIN_SECONDS", 0)


def farmer_asks_for_a_code(app, db) -> tuple[object, str]:
    household = HouseholdFactory(region_code=VILLAGE, head_name="马玉兰")
    db.session.commit()
    phone = app.test_client()
    assert phone.post("/m/login", data={"id_number": household.id_number, "phone": household.phone}).status_code == 200
    return household, code_sent_to(db, household.phone)


def crawl(client, start: list[str], limit: int = 400) -> dict[str, str]:
    """Every same-site page reachable by GET from `start`, by following links."""
    seen: dict[str, str] = {}
    queue = deque(start)
    while queue and len(seen) < limit:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or not path.startswith("/") or path.startswith(("/static/", "/logout")):
            continue
        resp = client.get(url)
        if resp.mimetype == "application/json":
            body = json.dumps(resp.json, ensure_ascii=False)
        else:
            body = resp.get_data(as_text=True) if resp.mimetype in ("text/html", "text/csv") else ""
        seen[url] = body
        for link in HREF.findall(body):
            link = urljoin(url, link.replace("&amp;", "&"))
            parts = urlsplit(link)
            if parts.netloc in ("", "localhost"):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


@pytest.mark.slow  # walks every page and endpoint
def test_a_clerk_with_every_page_and_the_api_cannot_obtain_a_farmers_code(app, db, county, login_as, api_as):
    household, code = farmer_asks_for_a_code(app, db)
    message = db.session.scalar(sa.select(Message).where(Message.template == "login_code"))
    assert message.body.endswith("验证码******，5分钟内有效。请勿告诉他人。")
    for role, region in (("village_clerk", VILLAGE), ("county_admin", "640425"), ("supervisor", "640425")):
        web = login_as(role, region)
        pages = crawl(web, ["/home", "/sms/", f"/sms/messages/{message.id}", f"/households/{household.id}",
                            "/sms/messages?template=login_code", "/audit/"])
        assert len(pages) > 10
        leaked = [url for url, body in pages.items() if code in body]
        assert leaked == [], (role, leaked)
        api = api_as(role, region)
        answers = [json.dumps(api.get(url).json, ensure_ascii=False) for url in (
            "/api/v1/sms/messages?template=login_code", f"/api/v1/sms/messages?region_code={VILLAGE}",
            f"/api/v1/sms/messages/{message.id}", f"/api/v1/households/{household.id}")]
        assert "验证码******" in answers[0] or role != "village_clerk"
        assert not any(code in a for a in answers), role
    # Nor anyone reading every table: the code is stored nowhere, not even hashed without a key.
    db.session.rollback()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            assert code not in json.dumps([str(v) for v in row], ensure_ascii=False), table.name
    # It is real all the same: the farmer's phone receives it and signs in with it.
    phone = app.test_client()
    phone.post("/m/login", data={"id_number": household.id_number, "phone": household.phone})
    assert phone.post("/m/login/code", data={"code": code_sent_to(db, household.phone)}).status_code == 302


def test_the_gateway_gets_the_code_and_the_outbox_keeps_it_masked(app, db, county, tmp_path, monkeypatch):
    from subsidy.notify.worker import Worker

    outbox_file = tmp_path / "sms-outbox.log"
    monkeypatch.setitem(app.config, "SMS_OUTBOX_FILE", str(outbox_file))
    household, code = farmer_asks_for_a_code(app, db)
    stats = Worker(config=app.config).run_once()
    assert stats.sent == 1
    assert f"验证码{code}" in outbox_file.read_text(encoding="utf-8")
    db.session.rollback()
    body = db.session.scalar(sa.select(Message.body).where(Message.template == "login_code"))
    assert sealed.MASK in body and code not in body


def test_the_farmers_acts_are_audited_as_the_farmer_with_the_address(app, db, county):
    """A receipt confirmed "by the farmer" from a clerk's office address must be findable."""
    from tests.test_public import sign_in

    household = HouseholdFactory(region_code=VILLAGE, head_name="马玉兰")
    db.session.commit()
    phone = app.test_client()
    phone.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    sign_in(phone, db, household)
    resp = phone.post("/m/cases/new", data={"kind": "inquiry", "subject": "补贴标准", "body": "每亩多少？"})
    assert resp.status_code == 200
    db.session.rollback()
    events = {e.action: e for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action.in_(["mobile.sign_in", "case.receive"])))}
    for action in ("mobile.sign_in", "case.receive"):
        event = events[action]
        assert event.actor == f"farmer:{household.id}", action
        detail = json.loads(event.detail)
        assert detail["address"] == "10.9.8.7" and isinstance(detail["farmer_session"], int), action
    assert json.loads(events["mobile.sign_in"].detail)["farmer_session"] == \
        json.loads(events["case.receive"].detail)["farmer_session"]


def test_after_sign_out_the_farmers_old_cookie_opens_nothing(app, db, county):
    from tests.test_public import sign_in

    household = HouseholdFactory(region_code=VILLAGE)
    db.session.commit()
    phone = app.test_client()
    sign_in(phone, db, household)
    assert phone.get("/m/me").status_code == 200
    stolen = phone.get_cookie("session").value
    assert phone.post("/m/logout").status_code == 302
    assert phone.get("/m/me").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    resp = replay.get("/m/me")
    assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


def test_a_complaints_reply_sms_is_not_shown_to_the_accused_village(db, county, login_as, api_as):
    """Finding 4: messages about a case are filed under its handling unit, so the clerk of the
    village a complaint accuses never reads who complained (nor who objected)."""
    from subsidy.cases import service as cases

    township = make_user("township_reviewer", "640425100")
    case = cases.record_case(township, kind="complaint", channel="phone", region_code=VILLAGE, subject="村干部优亲厚友",
                             body="村里把补贴报给了亲戚", contact_phone="13909547777", contact_name="举报人")
    cases.reply_case(township, case.id, "已核实并处理。", "substantiated")
    db.session.commit()
    message = db.session.scalar(sa.select(Message).where(Message.template == "case_replied"))
    assert message.region_code == "640425100"
    clerk_web, clerk_api = login_as("village_clerk", VILLAGE), api_as("village_clerk", VILLAGE)
    assert "13909547777" not in clerk_web.get("/sms/messages").get_data(as_text=True)
    assert clerk_web.get(f"/sms/messages/{message.id}").status_code == 404
    assert clerk_api.get("/api/v1/sms/messages?template=case_replied").json["total"] == 0
    assert api_as("township_reviewer", "640425100").get("/api/v1/sms/messages?template=case_replied").json["total"] == 1

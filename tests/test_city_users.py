"""Who creates whom (accounts.models.MANAGES), and who is told when a city account is attacked
or the audit log's daily checkpoint is written."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from subsidy.accounts.models import Role, User
from subsidy.audit.models import AuditEvent
from subsidy.notify.models import Message
from tests.conftest import PASSWORD
from tests.factories import UserFactory, make_city, make_user

STRONG = "Gy-demo-2024-pass"


def _new(client, username, role, region):
    return client.post("/api/v1/users", json={"username": username, "password": STRONG, "name": "新人",
                                              "role": role, "region_code": region})


@pytest.fixture
def city(db, county):
    return make_city()


def test_the_city_admin_makes_the_counties_admins_and_supervisors(api_as, city, db):
    admin = api_as("city_admin", "6404")
    for username, role, region in (("yz_admin", "county_admin", "640402"), ("yz_jiwei", "supervisor", "640402"),
                                   ("city_jiwei2", "city_supervisor", "6404")):
        resp = _new(admin, username, role, region)
        assert resp.status_code == 201, resp.json
    made = {u.username: (u.role, u.region_code) for u in db.session.scalars(sa.select(User))}
    assert made["yz_admin"] == (Role.county_admin, "640402")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "user.create")) == 3
    # not another city admin, not a village's clerk (the county's own work), nothing in 中卫市
    second = _new(admin, "city_admin2", "city_admin", "6404")
    assert second.status_code == 400
    assert second.json["error"]["fields"]["role"] == "市级管理员不能创建或管理市级管理员账号（由系统安装人员办理）"
    clerk = _new(admin, "clerk_yz", "village_clerk", "640402100201")
    assert clerk.status_code == 400
    assert clerk.json["error"]["fields"]["role"] == "市级管理员不能创建或管理村级经办员账号（由县级管理员办理）"
    assert _new(admin, "zw_admin", "county_admin", "640502").status_code == 404
    assert not db.session.scalar(sa.select(User).where(User.username.in_(["city_admin2", "clerk_yz", "zw_admin"])))


def test_a_county_admin_no_longer_makes_a_county_admin(api_as, db, county):
    admin = api_as("county_admin")
    resp = _new(admin, "second_admin", "county_admin", "640425")
    assert resp.status_code == 400
    assert resp.json["error"]["fields"]["role"] == "县级管理员不能创建或管理县级管理员账号（由市级管理员办理）"
    assert _new(admin, "jiwei_bys", "supervisor", "640425100").status_code == 201


def test_another_admin_of_the_county_is_listed_but_not_managed(app, db, county, login_as):
    other = make_user("county_admin", "640425")
    page = login_as("county_admin")
    listing = page.get("/users").get_data(as_text=True)
    assert other.username in listing and "由上级管理员管理" in listing
    assert f"/users/{other.id}/edit" not in listing
    assert page.get(f"/users/{other.id}/edit").status_code == 403
    assert page.post(f"/users/{other.id}/active", data={"active": "0"}).status_code == 403
    page.post(f"/users/{other.id}/password", data={"password": "Another-pass-99"})
    db.session.expire_all()
    assert db.session.get(User, other.id).active and not db.session.get(User, other.id).must_change_password
    # one's own account stays one's own
    me = db.session.scalar(sa.select(User).where(User.role == Role.county_admin, User.id != other.id))
    assert page.get(f"/users/{me.id}/edit").status_code == 200


def test_the_city_admin_manages_a_county_admin(app, city, db, login_as):
    county_admin = make_user("county_admin", "640402")
    page = login_as("city_admin", "6404")
    assert page.get(f"/users/{county_admin.id}/edit").status_code == 200
    resp = page.post(f"/users/{county_admin.id}/password", data={"password": "Yuanzhou-reset-77"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, county_admin.id).must_change_password
    clerk = make_user("village_clerk", "640402100201")
    assert page.get(f"/users/{clerk.id}/edit").status_code == 403


@pytest.mark.parametrize(("role", "region", "offered"), [
    ("county_admin", "640425", {"village_clerk", "township_reviewer", "county_reviewer", "supervisor"}),
    ("city_admin", "6404", {"county_admin", "supervisor", "city_supervisor"}),
])
def test_the_form_offers_only_the_roles_the_actor_may_create(city, login_as, role, region, offered):
    form = login_as(role, region).get("/users/new").get_data(as_text=True)
    select = form[form.index('name="role"'):]
    select = select[:select.index("</select>")]
    assert set(re.findall(r'<option[^>]*value="([a-z_]+)"', select)) == offered


def test_an_attacked_city_account_alerts_the_city(database_url, db):
    from tests.test_accounts import _from, _limited_app

    app = _limited_app(database_url, LOGIN_ALERT_FAILURES=3, LOGIN_ALERT_MINUTES=60)
    with app.app_context():
        from tests.factories import make_county

        make_county()
        make_city()
        target = UserFactory(role=Role.city_supervisor, region_code="6404", phone="13909540010")
        UserFactory(role=Role.city_admin, region_code="6404", phone="13909540011")
        UserFactory(role=Role.county_admin, region_code="640425", phone="13909540012")  # not the county's business
        db.session.commit()
        name = target.username
        for i in range(4):
            assert _from(app, f"198.51.100.{i}").post(
                "/login", data={"username": name, "password": "x1"}).status_code == 401
        db.session.remove()
        alert = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.sign_in_alert"))
        assert alert.region_code == "6404"
        sms = db.session.scalars(sa.select(Message).where(Message.template == "sign_in_alert")).all()
        # the city's admin and supervisors (the attacked one among them), not the county's
        assert sorted(m.to_phone for m in sms) == ["13909540010", "13909540011"]
        assert {m.region_code for m in sms} == {"6404"}
        assert name in sms[0].body
        assert _from(app, "10.0.0.9").post("/login", data={"username": name,
                                                           "password": PASSWORD}).status_code == 302


def test_the_daily_checkpoint_reaches_the_city_supervisor(runner, city, db, app, tmp_path):
    app.config["AUDIT_CHECKPOINT_DIR"] = str(tmp_path)
    app.config["AUDIT_CHECKPOINT_SMS"] = True
    UserFactory(role=Role.city_supervisor, region_code="6404", phone="13909540021")
    UserFactory(role=Role.supervisor, region_code="640425", phone="13909540022")
    UserFactory(role=Role.supervisor, region_code="640425100", phone="13909540023")  # a township's: not sent
    db.session.commit()
    try:
        assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    finally:
        app.config.pop("AUDIT_CHECKPOINT_DIR")
    phones = sorted(db.session.scalars(sa.select(Message.to_phone).where(Message.template == "audit_checkpoint")))
    assert phones == ["13909540021", "13909540022"]


def test_the_city_supervisor_records_a_decision_about_a_countys_official(api_as, login_as, client, city, db):
    """问责 upward: the city's 纪委 records a decision about 彭阳县's own staff; published, it is
    on 彭阳县's public page (the official's county), not 原州区's; the city's complaint behind it
    stays the city's. Another city's official is out of reach."""
    from datetime import timedelta

    from subsidy.accountability.models import AccountabilityDecision
    from subsidy.common.timeutil import local_today

    body = {"region_code": "640425", "person_name": "马县长", "post": "县农业农村局局长", "measure": "admonishment",
            "document_no": "固纪发〔2026〕3号", "decided_on": (local_today() - timedelta(days=2)).isoformat(),
            "summary": "对补贴发放监管不力。", "publish": True}
    api = api_as("city_supervisor", "6404")
    made = api.post("/api/v1/accountability", json=body)
    assert made.status_code == 201, made.json
    assert api.post("/api/v1/accountability", json={**body, "region_code": "640502"}).json["error"]["fields"] == {
        "region_code": "只能对本辖区内的人员记录问责"}
    decision = db.session.scalars(sa.select(AccountabilityDecision)).one()
    assert decision.region_code == "640425"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "accountability.record"))
    assert event.region_code == "640425"
    assert "马县长" in client.get("/m/disclosures?region=640425").get_data(as_text=True)
    assert "马县长" not in client.get("/m/disclosures?region=640402").get_data(as_text=True)
    # the county's supervisor reads it; the form is the city supervisor's page too
    assert "马县长" in login_as("supervisor", "640425").get("/accountability").get_data(as_text=True)
    assert login_as("city_supervisor", "6404").get("/accountability/new").status_code == 200
    # the city admin does not record 问责
    assert api_as("city_admin", "6404").post("/api/v1/accountability", json=body).status_code == 403

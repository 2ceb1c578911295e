"""The city tier's foundation (docs/design.md "People", "Jurisdiction"): the levels above the
county in the same range-scoped codes, the two city roles at a prefecture only, their sign-in
with every page of their navigation answering, migration 0022 on a database with data, and a
first scope check across counties."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from subsidy import create_app
from subsidy.accounts import service as accounts
from subsidy.accounts.models import ROLE_LEVELS, Role, User
from subsidy.accounts.permissions import ROLE_PERMS, Perm
from subsidy.errors import AboveCounty, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.regions.models import CODE_LENGTH, Level, Region
from subsidy.regions.scope import WIDTHS, ancestors, covers, normalize_code, within
from subsidy.regions.service import county_of
from tests.conftest import PASSWORD, TEST_DATABASE_URL
from tests.factories import HouseholdFactory, ProjectFactory, RegionFactory, make_city, make_user


# -- codes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    ("64", "64"), ("6404", "6404"), (" 6404 ", "6404"),
    ("640000000000", "64"), ("640400000000", "6404"), ("640425000000", "640425"),
    ("640425100000", "640425100"),
    # the official 6-digit forms of a province and a prefecture (GB/T 2260)
    ("640000", "64"), ("640400", "6404"),
    ("640425", "640425"), ("640402", "640402"),
])
def test_normalize_accepts_the_levels_above_the_county(raw, expected):
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", ["6", "640", "64042", "6404251", "64042510", "6404251012", "64042510120"])
def test_normalize_refuses_other_lengths(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_code(raw)
    assert "2、4、6、9 或 12" in exc.value.message


def test_widths_are_the_levels_code_lengths_top_down():
    assert list(Level)[:2] == [Level.province, Level.prefecture]
    assert WIDTHS == tuple(CODE_LENGTH[level] for level in Level) == (2, 4, 6, 9, 12)


@pytest.mark.parametrize(("code", "expected"), [
    ("64", []), ("6404", ["64"]), ("640425", ["64", "6404"]), ("640425100", ["64", "6404", "640425"]),
    ("640425100201", ["64", "6404", "640425", "640425100"]),
])
def test_ancestors(code, expected):
    assert ancestors(code) == expected


def test_within_and_covers_for_a_city_and_a_province(db, county):
    make_city()
    under_city = set(db.session.scalars(sa.select(Region.code).where(within(Region.code, "6404"))))
    assert {"6404", "640402", "640425", "640425100201", "640423100201"} <= under_city
    assert not under_city & {"64", "6405", "640502", "640502100201"}
    under_province = set(db.session.scalars(sa.select(Region.code).where(within(Region.code, "64"))))
    assert under_province == set(db.session.scalars(sa.select(Region.code)))
    assert covers("6404", "640425100201") and covers("64", "6404") and not covers("6404", "640502100201")
    assert not covers("6404", "64")


def test_county_of_refuses_a_code_above_the_county():
    assert county_of("640425100201") == "640425"
    for code in ("6404", "64"):
        with pytest.raises(AboveCounty):
            county_of(code)
    assert issubclass(AboveCounty, PermissionDenied)  # a county page asked by a city user: 403


def test_make_city_attaches_the_counties(db, county):
    assert db.session.get(Region, "640425").parent_code is None  # as after the upgrade
    make_city()
    city = db.session.get(Region, "6404")
    assert city.level == Level.prefecture and city.parent_code == "64"
    assert [c.code for c in city.children] == ["640402", "640422", "640423", "640424", "640425"]
    assert db.session.get(Region, "64").level == Level.province


def test_the_regions_check_holds_code_length_to_level(db, county):
    with pytest.raises(sa.exc.IntegrityError, match="code_length_matches_level"):
        RegionFactory(code="640425102", name="错", level=Level.prefecture, parent_code="640425")
    db.session.rollback()


# -- roles ----------------------------------------------------------------------------------------
# The three tiers' own work: filing, reviewing, paying, holding and recovering money, handing out
# goods. "Neither files, reviews nor pays: those stay with the three tiers."
TIERS_WORK = {Perm.edit_households, Perm.edit_filings, Perm.review_filings, Perm.manage_projects,
              Perm.manage_payments, Perm.hold_entries, Perm.manage_recoveries, Perm.approve_write_offs,
              Perm.manage_stock, Perm.record_pickups, Perm.manage_watchlist, Perm.record_cases,
              Perm.manage_sms, Perm.broadcast_sms, Perm.handle_sms, Perm.manage_calendar}


def test_city_roles_sit_at_a_prefecture_and_never_do_the_tiers_work():
    assert ROLE_LEVELS[Role.city_admin] == ROLE_LEVELS[Role.city_supervisor] == {Level.prefecture}
    # Besides reading, only the city's own acts: its users, catalogue, city-wide policies,
    # transfers across counties and the assessment's weights; answering the complaints about a
    # county's staff, and 督办.
    writes = {Role.city_admin: {Perm.manage_users, Perm.manage_subsidy_types, Perm.manage_policies,
                                Perm.transfer_households, Perm.manage_assessment},
              Role.city_supervisor: {Perm.handle_cases, Perm.escalate_cases, Perm.record_accountability}}
    for role in (Role.city_admin, Role.city_supervisor):
        assert not ROLE_PERMS[role] & TIERS_WORK, (role, ROLE_PERMS[role] & TIERS_WORK)
        assert {Perm.view_projects, Perm.view_policies, Perm.view_audit, Perm.view_dashboard,
                Perm.view_assessment} <= ROLE_PERMS[role]
        assert {p for p in ROLE_PERMS[role] if not p.value.startswith("view_")} == writes[role], role
    assert (ROLE_PERMS[Role.city_supervisor] - {Perm.view_assessment}
            <= ROLE_PERMS[Role.supervisor] | {Perm.handle_cases})


@pytest.mark.parametrize(("role", "region", "message"), [
    ("city_admin", "640425", "市级管理员不能设在县级（彭阳县），只能设在市级"),
    ("city_supervisor", "640425100", "市级监督员不能设在乡镇级（白阳镇），只能设在市级"),
    ("city_supervisor", "64", "市级监督员不能设在省级（宁夏回族自治区），只能设在市级"),
    ("county_admin", "6404", "县级管理员不能设在市级（固原市），只能设在县级"),
    ("supervisor", "6404", "监督员不能设在市级（固原市），只能设在县级、乡镇级、村级"),
])
def test_a_role_is_refused_at_another_level_with_a_clear_message(db, county, role, region, message):
    with pytest.raises(ValidationError) as exc:
        accounts.create_user(None, username="u_city", password="Gy-demo-2024-pass", name="某人", role=role,
                             region_code=region)
    assert exc.value.fields["role"] == message


def test_the_shell_creates_the_first_city_users(db, county, runner):
    for role in ("city_admin", "city_supervisor"):
        result = runner.invoke(args=["users", "create", f"first_{role}", "--role", role, "--region", "640400",
                                     "--password", "Gy-demo-2024-pass"])
        assert result.exit_code == 0, result.output
    users = db.session.scalars(sa.select(User).where(User.username.like("first_%"))).all()
    assert {(u.role, u.region_code) for u in users} == {(Role.city_admin, "6404"), (Role.city_supervisor, "6404")}


# -- sign-in and pages ------------------------------------------------------------------------------
def _nav(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav">(.*?)</nav>', html, re.S).group(1)
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize("role", ["city_admin", "city_supervisor"])
def test_a_city_user_signs_in_and_every_page_of_the_navigation_answers(app, db, county, role):
    make_city()
    HouseholdFactory(region_code="640425100201")
    HouseholdFactory(region_code="640402100201")
    ProjectFactory(county_code="640425")
    db.session.commit()
    user = make_user(role)
    c = app.test_client()
    assert c.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    home = c.get("/home")
    assert home.status_code == 200
    assert "固原市" in home.get_data(as_text=True)
    links = _nav(home.get_data(as_text=True))
    assert {"/home", "/audit/", "/projects/", "/policies/", "/dashboard"} <= set(links)
    if role == "city_supervisor":
        assert {"/households/", "/filings/", "/cases/", "/payments/", "/recoveries/"} <= set(links)
    # a page is offered only when it serves a city's code: each one answers
    assert {url: c.get(url).status_code for url in links} == {url: 200 for url in links}
    # what they may not do yet is not offered, and refused if asked
    assert "/users/" not in set(links)
    assert c.get("/projects/new").status_code == 403
    # the API answers them the same way
    token = c.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}).json["token"]
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token
    for url in ("/api/v1/regions/6404", "/api/v1/households", "/api/v1/filings", "/api/v1/projects",
                "/api/v1/policies"):
        assert api.get(url).status_code in (200, 403), url
    assert [c["region_code"] for c in api.get("/api/v1/stats/summary").json["children"]] == [
        "640402", "640422", "640423", "640424", "640425"]
    assert api.get("/api/v1/regions/6404").json["level"] == "prefecture"


@pytest.mark.parametrize("role", ["city_admin", "city_supervisor"])
def test_no_page_without_arguments_fails_for_a_city_user(app, db, county, login_as, role):
    """Broader than the navigation: every GET page and API path that takes no argument answers a
    city user with something other than a server error."""
    make_city()
    c = login_as(role)
    token = c.post("/api/v1/auth/token", json={"username": c.user.username, "password": PASSWORD}).json["token"]
    failed = []
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in rule.methods or rule.rule.startswith(("/static", "/m/")):
            continue
        headers = {"Authorization": "Bearer " + token} if rule.rule.startswith("/api/") else {}
        status = c.get(rule.rule, headers=headers).status_code
        if status >= 500:
            failed.append((rule.rule, status))
    assert failed == []


# -- scope across counties --------------------------------------------------------------------------
def test_a_county_user_sees_nothing_of_another_county(db, county, api_as):
    from tests.filings_support import make_world

    make_city()
    mine = make_world(2, village="640425100201")
    theirs = make_world(2, village="640402100201", county_code="640402")
    for role, code, own, other in (("county_admin", "640425", mine, theirs),
                                   ("supervisor", "640402", theirs, mine),
                                   ("county_reviewer", "640425", mine, theirs)):
        c = api_as(role, code)
        households = {h["id"] for h in c.get("/api/v1/households?per_page=100").json["items"]}
        assert households == {h.id for h in own.households}, role
        filings = {f["id"] for f in c.get("/api/v1/filings").json["items"]}
        assert filings == {own.filing.id}, role
        assert c.get(f"/api/v1/filings/{other.filing.id}").status_code == 404
        assert c.get(f"/api/v1/households/{other.households[0].id}").status_code == 404
        assert c.get("/api/v1/regions/640502").status_code == 404


# -- migration 0022 on a database with data ------------------------------------------------------
@pytest.fixture
def scratch_url(tmp_path):
    if TEST_DATABASE_URL:
        from tests.bench_support import scratch_postgres

        url, drop = scratch_postgres(TEST_DATABASE_URL, "_city_migration")
        from subsidy.common.database import reset_postgres_schema

        reset_postgres_schema(url)
        yield url
        drop()
    else:
        yield "sqlite:///" + str(tmp_path / "migration.sqlite3")


def _counts() -> dict[str, int]:
    """Rows per table, of the tables the database has (a later migration's table is not there yet)."""
    present = set(sa.inspect(db.session.connection()).get_table_names())
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t))
            for t in db.metadata.sorted_tables if t.name in present}


def test_upgrade_0022_keeps_every_row(scratch_url, tmp_path):
    from subsidy.filings import service as filings
    from subsidy.filings.models import FilingState
    from tests.filings_support import make_world, walk_to

    other = create_app({"TESTING": True, "DATABASE_URL": scratch_url, "SECRET_KEY": "migration-test",
                        "SMS_OUTBOX_FILE": str(tmp_path / "sms.log"), "SERVER_NAME": None})
    with other.app_context():
        try:
            # The rows are written by today's models, then the schema is taken down to 0021 (the
            # later downgrades keep them): written at 0021 directly, a column added since would
            # be missing from the old table.
            upgrade()
            # A county as it stands before the city: every old role, households, a filing reviewed
            # by two tiers (filing_reviews.tier) with a reviewer's note (filing_entry_notes.tier).
            RegionFactory(code="640425", name="彭阳县", level=Level.county, sms_signature="【彭阳县惠农】")
            RegionFactory(code="640425100", name="白阳镇", level=Level.township, parent_code="640425")
            RegionFactory(code="640425100201", name="韩岔村", level=Level.village, parent_code="640425100")
            db.session.commit()
            for role in ("county_admin", "supervisor"):
                make_user(role, "640425")
            w = make_world(3, village="640425100201")
            walk_to(w, FilingState.village_filed)
            entry_id = db.session.scalar(sa.text("SELECT min(id) FROM filing_entries"))
            filings.add_note(w.township, w.filing.id, entry_id, "已入户核实")
            db.session.commit()
            walk_to(w, FilingState.county_approved)
            before = _counts()
            tiers = sorted(db.session.scalars(sa.text("SELECT tier FROM filing_reviews")))
            assert before["filing_entry_notes"] == 1 and {"village", "township", "county"} <= set(tiers)
            db.session.remove()
            downgrade(revision="0021")
            db.session.remove()

            upgrade()

            after = _counts()
            assert {name: after[name] for name in before} == before
            assert sorted(db.session.scalars(sa.text("SELECT tier FROM filing_reviews"))) == tiers
            if db.engine.dialect.name == "sqlite":
                assert db.session.execute(sa.text("PRAGMA foreign_key_check")).all() == []
                assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
                referenced = {row[2] for row in db.session.execute(sa.text("PRAGMA foreign_key_list(households)"))}
                assert referenced == {"regions"}
            # the new levels and roles are accepted, the old rows' references still hold
            db.session.add_all([Region(code="64", name="宁夏回族自治区", level=Level.province),
                                Region(code="6404", name="固原市", level=Level.prefecture, parent_code="64")])
            db.session.flush()
            db.session.execute(sa.update(Region).where(Region.code == "640425").values(parent_code="6404"))
            make_user("city_supervisor", "6404")
            db.session.commit()
            assert db.session.get(Region, "640425").parent_code == "6404"
            # a household's village must still exist: the foreign keys are back on
            with pytest.raises(sa.exc.IntegrityError):
                db.session.execute(sa.text("UPDATE households SET region_code = '640425100299'"))
            db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_county_admin_is_not_offered_the_city_roles(db, county, login_as):
    make_city()
    html = login_as("county_admin").get("/users/new").get_data(as_text=True)
    assert "县级审核员" in html and "市级管理员" not in html and "市级监督员" not in html

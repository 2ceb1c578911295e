"""bench/generate.py at a small size (issue 8: the generator runs in CI so that it cannot rot).

Each database gets three fresh generations of 600 households and a 50-entry big filing: the
seed twice (the rows must be identical) and another seed (they must not be). The first one is
then checked row by row against the app's own rules and used by the app: it signs in, verifies
the audit chain, recomputes snapshot digests, approves the big filing as the county (its
snapshots must equal the publicized list) and registers a household (the sequences must be
past the generated ids). SQLite always; PostgreSQL too when TEST_DATABASE_URL names one, in a
scratch database `<that database>_gen` beside it. A province of several cities (small counties)
is then checked for its region tree and the city tier's users, on SQLite."""
from __future__ import annotations

import hashlib
import os
from datetime import date

import pytest
import sqlalchemy as sa

from bench.generate import BIG_VILLAGE, generate
from tests.bench_support import scratch_postgres
from tests.conftest import RequestIsolatingClient

pytestmark = pytest.mark.bench

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
N, BIG = 600, 50

DIGESTED = {
    "households": "id, region_code, head_name, id_number, phone, payout_account, members, land_area_mu",
    "filings": "id, project_id, region_code, state, version, round, publicized_at",
    "filing_entries": "id, filing_id, project_id, household_id, quantity, amount",
    "filing_snapshots": "id, filing_id, stage, digest, entry_count",
    "sms_messages": "id, key, status, to_phone",
    "audit_events": "id, hash",
}


def rows_digest(url: str) -> str:
    engine = sa.create_engine(url)
    h = hashlib.sha256()
    with engine.connect() as conn:
        for table, columns in DIGESTED.items():
            for row in conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY id")):
                h.update(repr(tuple(map(str, row))).encode())
    engine.dispose()
    return h.hexdigest()


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """(kind, url of a fresh database for each call of the returned maker)."""
    if request.param == "sqlite":
        counter = iter(range(100))
        yield "sqlite", lambda: f"sqlite:///{tmp_path}/gen{next(counter)}.sqlite3", False
        return
    if not TEST_DATABASE_URL.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL is not PostgreSQL")
    url, drop = scratch_postgres(TEST_DATABASE_URL, "_gen")
    try:
        yield "postgresql", lambda: url, True
    finally:
        drop()


def test_generated_province_is_reproducible_valid_and_usable(target):
    kind, fresh, reset = target
    url = fresh()
    made = generate(url, households=N, seed=7, big_filing=BIG, reset=reset, progress=None)
    first = rows_digest(url)
    _check_rows(url, made)
    _check_app_uses_it(url, made)

    again = fresh()
    generate(again, households=N, seed=7, big_filing=BIG, reset=reset, progress=None)
    assert rows_digest(again) == first, "the same seed must give the same rows"
    other = fresh()
    generate(other, households=N, seed=8, big_filing=BIG, reset=reset, progress=None)
    assert rows_digest(other) != first, "another seed must give other rows"


def _check_rows(url: str, made: dict) -> None:
    from subsidy.filings.models import Action, FilingState
    from subsidy.households.validation import check_id_number, check_phone
    from subsidy.notify.models import MessageStatus

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = lambda table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: E731
        for table, n in made["counts"].items():
            assert count(table) == n, table
        assert made["households"] == count("households") == N + BIG
        assert made["entries"] == count("filing_entries") > 3 * N
        assert made["filings"] == count("filings")
        for table in ("filing_reviews", "filing_snapshots", "filing_snapshot_lines", "filing_entry_flags",
                      "filing_entry_notes", "payments", "payment_batches", "sms_messages", "sms_opt_outs",
                      "mobile_sign_ins", "policies", "cases", "case_events", "audit_events", "users"):
            assert made["counts"][table] > 0, table

        states = set(conn.execute(sa.text("SELECT DISTINCT state FROM filings")).scalars())
        assert states == {s.value for s in FilingState}
        statuses = set(conn.execute(sa.text("SELECT DISTINCT status FROM sms_messages")).scalars())
        assert statuses == {s.value for s in MessageStatus}
        actions = set(conn.execute(sa.text("SELECT DISTINCT action FROM filing_reviews")).scalars())
        assert actions == {a.value for a in Action}  # withdrawn and returned lists too
        assert len(set(conn.execute(sa.text("SELECT DISTINCT state FROM cases")).scalars())) >= 4
        assert set(conn.execute(sa.text("SELECT DISTINCT status FROM payments")).scalars()) >= {"paid", "pending",
                                                                                                 "failed"}

        ids, phones = zip(*conn.execute(sa.text("SELECT id_number, phone FROM households")).all(), strict=True)
        assert len(set(ids)) == len(ids)
        for id_number in ids:
            assert check_id_number(id_number) == id_number
        missing = [p for p in phones if p is None]
        assert 0 < len(missing) < 0.1 * len(phones)
        for phone in phones:
            if phone is not None:
                assert check_phone(phone) == phone

        big = made["big_filing"]
        f = conn.execute(sa.text("SELECT state, region_code, version FROM filings WHERE id = :i"),
                         {"i": big["id"]}).one()
        assert tuple(f) == ("township_approved", BIG_VILLAGE, big["version"])
        assert conn.execute(sa.text("SELECT count(*) FROM filing_entries WHERE filing_id = :i"),
                            {"i": big["id"]}).scalar() == big["entries"] == BIG
        # The counters go on from the numbers given, so the next case gets a new one.
        for kind, prefix in (("inquiry", "ZX"), ("complaint", "TS"), ("objection", "YY")):
            last = conn.execute(sa.text("SELECT last FROM case_counters WHERE kind = :k"), {"k": kind}).scalar()
            assert last == conn.execute(sa.text("SELECT count(*) FROM cases WHERE kind = :k"), {"k": kind}).scalar()
            assert conn.execute(sa.text("SELECT max(ref_no) FROM cases WHERE kind = :k"),
                                {"k": kind}).scalar() == f"{prefix}-{made['year']}-{last:06d}"
    engine.dispose()


def _check_app_uses_it(url: str, made: dict) -> None:
    from bench.generate import AUDIT_KEY
    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.audit.service import verify_chain
    from subsidy.demo import make_id_number
    from subsidy.extensions import db
    from subsidy.filings import snapshots, workflow
    from subsidy.filings.models import Filing, Snapshot
    from subsidy.households import service as households

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "gen-test", "AUDIT_KEY": AUDIT_KEY, "TESTING": True,
                      "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False})
    app.test_client_class = RequestIsolatingClient  # one app context for several requests
    with app.app_context():
        try:
            for username in made["users"].values():
                resp = app.test_client().post("/login", data={"username": username, "password": made["password"]})
                assert resp.status_code == 302, username
                db.session.remove()

            assert verify_chain().ok
            # The stored digests are the app's own (recomputed from the stored lines), and the
            # live lists equal their last snapshot except where a paid list differs on purpose.
            for snap in db.session.scalars(sa.select(Snapshot).order_by(Snapshot.id).limit(400)):
                d = snapshots.snapshot_digest(snap.id)
                assert (d.digest, d.entry_count, d.total_amount) == (snap.digest, snap.entry_count, snap.total_amount)
            differing = {m.stage for f in db.session.scalars(sa.select(Filing).order_by(Filing.id).limit(300))
                         for m in snapshots.find_mismatches(f)}
            assert differing <= {"paid"}

            county = db.session.scalar(sa.select(User).where(User.username == made["users"]["county_reviewer"]))
            big = made["big_filing"]
            filing = workflow.perform(county, big["id"], "approve", version=big["version"], comment="同意")
            db.session.commit()
            assert filing.state.value == "county_approved"

            admin = db.session.scalar(sa.select(User).where(User.username == made["users"]["admin"]))
            household = households.create_household(
                admin, region_code=BIG_VILLAGE, head_name="新户", id_number=make_id_number("640425", date(2003, 5, 6),
                                                                                        7, female=True),
                phone="13700001111", payout_account="6231000011112222333", members=3, land_area_mu="4.5")
            db.session.commit()
            assert household.id == made["households"] + 1
            assert verify_chain().ok
        finally:
            db.session.remove()
            db.engine.dispose()


def test_province_of_several_cities(tmp_path):
    """Seven small counties: 固原市 with its five real counties (640425 first), then a second city
    6405 of two counties 640501, 640502; the region tree is linked level by level, every code has
    its level's length and GB/T 2260's shape, each city has its city admin and supervisor and
    each county its admin and supervisor, every county has households, and the chain verifies."""
    from subsidy.regions.scope import normalize_code

    url = f"sqlite:///{tmp_path}/cities.sqlite3"
    made = generate(url, households=7 * 150, county_households=150, progress=None)
    assert made["city"] == "6404"
    assert made["cities"] == [
        {"code": "6404", "name": "固原市", "counties": ["640425", "640402", "640422", "640423", "640424"]},
        {"code": "6405", "name": made["cities"][1]["name"], "counties": ["640501", "640502"]}]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        regions = {code: (level, parent) for code, level, parent in conn.execute(sa.text(
            "SELECT code, level, parent_code FROM regions"))}
        assert regions["64"] == ("province", None)
        assert regions["6404"] == regions["6405"] == ("prefecture", "64")
        width = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
        for code, (level, parent) in regions.items():
            assert len(code) == width[level] and normalize_code(code) == code, code
            assert (parent is None) == (level == "province"), code
            if parent is not None:
                # GB/T 2260: a level's own digits are never all 0; a region hangs one level under its parent.
                assert int(code[len(parent):]) > 0, code
                assert code.startswith(parent) and width[regions[parent][0]] < width[level], code
                assert list(width).index(regions[parent][0]) == list(width).index(level) - 1, code
        counties = sorted(c for c, (level, _) in regions.items() if level == "county")
        assert counties == sorted(made["cities"][0]["counties"] + made["cities"][1]["counties"])
        users = conn.execute(sa.text("SELECT role, region_code, username FROM users WHERE length(region_code) <= 6"))
        roles = {}
        for role, region, username in users:
            roles.setdefault(region, {}).setdefault(role, []).append(username)
        assert roles["6404"] == {"city_admin": ["cityadmin"], "city_supervisor": ["citysupervisor"]}
        assert roles["6405"] == {"city_admin": ["cityadmin6405"], "city_supervisor": ["citysupervisor6405"]}
        for county in counties:
            assert {r: len(u) for r, u in roles[county].items()} == {"county_admin": 1, "county_reviewer": 1,
                                                                      "supervisor": 1}, county
        per_county = dict(conn.execute(sa.text(
            "SELECT substr(region_code, 1, 6), count(*) FROM households GROUP BY 1")).all())
        assert set(per_county) == set(counties) and min(per_county.values()) == 150
        # The city admin made the county admins (accounts.MANAGES); nobody above made the first city admin.
        creator = dict(conn.execute(sa.text(
            "SELECT u.username, a.actor FROM audit_events a JOIN users u ON a.object_id = CAST(u.id AS TEXT) "
            "WHERE a.action = 'user.create'")).all())
        assert creator["cityadmin"] == "system" and creator["admin640402"] == "cityadmin"
        assert creator["county640402"] == "admin640402" and creator["citysupervisor6405"] == "cityadmin6405"
        _check_cross_county_pairs(conn, made)
    engine.dispose()
    _verify_chain(url)


def _check_cross_county_pairs(conn, made: dict) -> None:
    """One planted pair per kind in every county but the first of its city (four in 6404, one in
    6405), every fourth of a kind a decoy (or a match that no common type fits): the two
    households are in two counties of one city and share the account (phone); a match is listed
    under a common project name (the type) in the one year, a decoy under none."""
    planted = made["cross_county"]
    for kind in ("account", "phone"):
        assert planted[kind]["match"] + planted[kind]["decoy"] == 5 and planted[kind]["decoy"] >= 1, planted[kind]
        assert planted[kind]["match"] >= 1, planted[kind]
    assert len(planted["pairs"]) == 10
    column = {"account": "payout_account", "phone": "phone"}
    city_of = {county: city["code"] for city in made["cities"] for county in city["counties"]}
    for pair in planted["pairs"]:
        mine, theirs = (conn.execute(sa.text(
            f"SELECT region_code, {column[pair['kind']]} FROM households WHERE id = :h"), {"h": h}).one()
            for h in (pair["household"], pair["other"]))
        assert mine[1] == theirs[1] and mine[1], pair
        assert mine[0].startswith(pair["county"]) and theirs[0].startswith(pair["other_county"]), pair
        assert pair["county"] != pair["other_county"] and city_of[pair["county"]] == city_of[pair["other_county"]]
        # Nobody else holds that account or phone.
        assert conn.execute(sa.text(f"SELECT count(*) FROM households WHERE {column[pair['kind']]} = :v"),
                            {"v": mine[1]}).scalar() == 2, pair
        types = [set(conn.execute(sa.text(
            "SELECT DISTINCT p.name FROM filing_entries e JOIN projects p ON p.id = e.project_id "
            "WHERE e.household_id = :h"), {"h": h}).scalars()) for h in (pair["household"], pair["other"])]
        assert types[0], pair  # a decoy is listed too, under other types
        assert bool(types[0] & types[1]) == pair["match"], (pair, types)


def _verify_chain(url: str) -> None:
    from bench.generate import AUDIT_KEY
    from subsidy import create_app
    from subsidy.audit.service import verify_chain
    from subsidy.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "gen-test", "AUDIT_KEY": AUDIT_KEY, "TESTING": True})
    with app.app_context():
        try:
            assert verify_chain().ok
        finally:
            db.session.remove()
            db.engine.dispose()

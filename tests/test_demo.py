"""The demo as a newcomer meets it: `make run` serves the platform with its jobs (tools/run.py),
so a farmer's sign-in code reaches instance/sms-outbox.log; `flask demo load` leaves every state
of filings, cases, payments and SMS, and work waiting for each demo role (docs/operations.md
"Command line")."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from subsidy import ROOT, create_app
from subsidy.extensions import db
from tests.factories import HouseholdFactory, make_county


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_of(pid: int) -> list[int]:
    """Every process whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child processes from /proc")
def test_make_run_sends_a_farmers_code_to_the_outbox_and_stops_every_child(tmp_path):
    url = "sqlite:///" + str(tmp_path / "demo.sqlite3")
    outbox = tmp_path / "sms-outbox.log"
    settings = {"DATABASE_URL": url, "SECRET_KEY": "run-test-" + "k" * 32, "SMS_OUTBOX_FILE": str(outbox),
                "AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "SMS_POLL_SECONDS": "0.5"}
    other = create_app(dict(settings))
    with other.app_context():
        upgrade()
        make_county()
        household = HouseholdFactory(region_code="640425100201", head_name="张建华", phone="13800138001")
        db.session.commit()
        id_number = household.id_number
        db.session.remove()
        db.engine.dispose()

    port = _free_port()
    env = {**os.environ, **settings, "PYTHONPATH": str(ROOT)}
    env.pop("TEST_DATABASE_URL", None)
    sup = subprocess.Popen([sys.executable, "-m", "tools.run", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    children: list[int] = []
    try:
        base = f"http://127.0.0.1:{port}"
        browser = build_opener(HTTPCookieProcessor(CookieJar()))
        deadline = time.monotonic() + 30
        while True:
            try:
                page = browser.open(base + "/m/login", timeout=5).read().decode()
                break
            except OSError:
                assert sup.poll() is None, sup.stdout.read().decode()
                assert time.monotonic() < deadline, "the web server did not answer in 30 s"
                time.sleep(0.3)
        children = _children_of(sup.pid)
        assert len(children) >= 2  # the web server and the SMS worker at least
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urlencode({"csrf_token": token, "id_number": id_number, "phone": "13800138001"}).encode()
        assert browser.open(base + "/m/login", data=form, timeout=10).status == 200

        deadline = time.monotonic() + 15
        line = None
        while line is None and time.monotonic() < deadline:
            if outbox.exists():
                line = next((ln for ln in outbox.read_text(encoding="utf-8").splitlines()
                             if "13800138001" in ln and re.search(r"\d{6}", ln.split("\t")[-1])), None)
            time.sleep(0.2)
        assert line is not None, "no sign-in code in the SMS outbox within 15 s"
        code = re.search(r"(?<!\d)(\d{6})(?!\d)", line.split("\t")[-1]).group(1)
        # the code from the outbox signs the farmer in
        form = urlencode({"csrf_token": token, "code": code}).encode()
        signed_in = browser.open(base + "/m/login/code", data=form, timeout=10)
        assert signed_in.url.endswith("/m/me"), signed_in.url
    finally:
        sup.send_signal(signal.SIGTERM)
        try:
            out = sup.communicate(timeout=20)[0].decode()
        except subprocess.TimeoutExpired:
            sup.kill()
            raise
    assert sup.returncode == 0, out
    assert "stopped web" in out and "stopped sms worker" in out
    time.sleep(0.2)
    assert [pid for pid in children if _alive(pid)] == []


def test_a_child_that_dies_is_restarted(tmp_path):
    from tools.run import Child, Supervisor

    sup = Supervisor("127.0.0.1", 0, env={**os.environ})
    sup.children = [Child("sleeper", ["--version"])]  # exits at once: restarted, then given up
    sup.children[0].start = lambda env, c=sup.children[0]: setattr(
        c, "proc", subprocess.Popen([sys.executable, "-c", "pass"]))
    starts = 0
    for _ in range(20):
        before = sup.children[0].proc
        sup.tick()
        starts += sup.children[0].proc is not before
        if sup.stopping:
            break
        sup.children[0].proc.wait()
    assert sup.failed and sup.stopping and starts > 1


@pytest.fixture
def loaded(app, db):
    from subsidy.demo import load_demo

    load_demo(households_per_village=3)
    db.session.commit()


def _states(column):
    return set(db.session.scalars(sa.select(sa.distinct(column))))


def test_the_demo_holds_every_state_with_a_history(loaded):
    from subsidy.cases.models import Case, CaseState
    from subsidy.filings.models import Filing, FilingState, Review
    from subsidy.notify.models import Message, MessageStatus
    from subsidy.payments.models import BatchStatus, Payment, PaymentBatch, PaymentStatus

    assert _states(Filing.state) == set(FilingState)
    assert _states(Case.state) == set(CaseState)
    assert _states(Payment.status) == set(PaymentStatus)
    assert _states(PaymentBatch.status) == set(BatchStatus)
    assert _states(Message.status) >= set(MessageStatus) - {MessageStatus.sending}
    # overdue, 督办 by the supervisor, rated
    assert db.session.scalar(sa.select(sa.func.count()).where(Case.overdue_at.is_not(None)))
    assert db.session.scalar(sa.select(sa.func.count()).where(Case.escalation_count > 0)) >= 2
    assert db.session.scalar(sa.select(sa.func.count()).where(Case.rating.is_not(None))) >= 2
    # a returned filing carries its reason; every review happened in the past, in order
    returned = db.session.scalars(sa.select(Review).where(Review.action == "return")).all()
    assert returned and all(r.comment for r in returned)
    now = datetime.now(UTC)
    for filing in db.session.scalars(sa.select(Filing)):
        times = [r.at for r in db.session.scalars(sa.select(Review).where(Review.filing_id == filing.id)
                                                  .order_by(Review.id))]
        assert times == sorted(times) and all(_aware(t) < now for t in times)
        if filing.state not in (FilingState.draft, FilingState.publicizing):
            assert _aware(filing.publicity_ends_at) < now



def test_the_demo_shows_supervision_with_consequences(loaded):
    """A hold, a recovery half repaid, a write-off waiting for a second person, a published 问责
    decision: the dashboard's 问题处置 block has figures at first sign-in."""
    from subsidy.accountability.models import AccountabilityDecision
    from subsidy.accounts.models import User
    from subsidy.filings.models import EntryHold, HoldStatus
    from subsidy.recoveries.models import Recovery, RecoveryState, WriteOff, WriteOffState
    from subsidy.stats import service as stats

    assert db.session.scalar(sa.select(sa.func.count()).where(EntryHold.status == HoldStatus.held)) == 1
    recovery = db.session.scalars(sa.select(Recovery)).one()
    assert recovery.state == RecoveryState.open and 0 < recovery.amount_recovered < recovery.amount_due
    kinds = db.session.execute(sa.select(WriteOff.kind, WriteOff.state).order_by(WriteOff.kind)).all()
    assert [(k.value, st) for k, st in kinds] == [("material", WriteOffState.proposed),
                                                  ("payment", WriteOffState.proposed)]
    assert db.session.scalar(sa.select(AccountabilityDecision.published_at)) is not None
    supervisor = db.session.scalar(sa.select(User).where(User.username == "supervisor"))
    block = stats.summary(supervisor, refresh=True)["supervision"]
    assert block["held"] == 1 and block["accountability"] == 1 and block["recovery_due"] != "0.00"
    from subsidy.workbench.service import waiting_work

    waiting = {i.key: i.count for i in waiting_work(supervisor)}
    assert waiting.get("write_offs") == 2   # the supervisor's home page: write-offs to approve


def test_the_demo_hands_out_goods(loaded):
    """实物补贴 at first sign-in: a county-approved list of 地膜 with its place and days, the
    approval SMS saying them, the township's store, pickups (one by a proxy, one confirmed by
    the farmer), a write-off waiting and a household still to collect."""
    from subsidy.filings.models import Filing, FilingState
    from subsidy.materials import service as goods
    from subsidy.materials.models import MaterialList, MaterialPickup, Receiver
    from subsidy.notify.models import Message
    from subsidy.payments.models import ReceiptAnswer
    from subsidy.projects.models import Category, Project

    filing = db.session.scalar(sa.select(Filing).join(Project).where(
        Project.category == Category.material, Filing.state == FilingState.county_approved))
    assert filing is not None and db.session.get(MaterialList, filing.id) is not None
    sent = db.session.scalars(sa.select(Message.body).where(Message.template == "filing_approved_material_place")).all()
    assert sent and all("村委会院内领取" in b for b in sent)
    receivers = db.session.scalars(sa.select(MaterialPickup.receiver)
                                   .where(MaterialPickup.filing_id == filing.id)).all()
    assert Receiver.proxy in receivers
    assert db.session.scalar(sa.select(sa.func.count()).where(MaterialPickup.receipt == ReceiptAnswer.confirmed)) == 1
    total, left = goods.outstanding(filing.id)
    assert total > left >= 2


def _aware(t):
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def test_each_demo_role_has_work_waiting(loaded):
    from subsidy.accounts.models import User
    from subsidy.cases.models import Case, CaseState
    from subsidy.filings import service as filings
    from subsidy.filings.models import Filing, FilingState
    from subsidy.payments import service as payments
    from subsidy.regions.models import Region

    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    village = users["village"]
    assert db.session.get(Region, village.region_code).name in village.name  # named after its own village
    mine = set(db.session.scalars(sa.select(Filing.state).where(Filing.region_code == village.region_code)))
    assert {FilingState.draft, FilingState.publicizing} <= mine
    assert filings.queue_size(users["township"]) > 0
    assert filings.queue_size(users["county"]) > 0
    assert payments.failed_waiting(users["county"])
    assert payments.projects_with_approved(users["county"])
    open_cases = db.session.scalar(sa.select(sa.func.count()).where(
        Case.assigned_region_code == users["township"].region_code,
        Case.state.in_([CaseState.received, CaseState.in_progress])))
    assert open_cases > 0
    assert db.session.scalar(sa.select(sa.func.count()).where(Case.overdue_at.is_not(None),
                                                              Case.state != CaseState.closed))


def test_the_demo_loads_once(loaded, db):
    from subsidy.accounts.models import User
    from subsidy.demo import load_demo
    from subsidy.filings.models import Filing
    from subsidy.households.models import Household
    from subsidy.regions.models import Region

    def counts():
        return [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Filing, Region, User, Household)]

    before = counts()
    load_demo(households_per_village=3)
    assert counts() == before


def test_the_demo_is_the_city_with_its_five_counties(loaded, app, db):
    from stdnum.cn import ric

    from subsidy.accounts.models import Role, User
    from subsidy.demo import DEMO_PASSWORD
    from subsidy.households.models import Household, HouseholdMove
    from subsidy.regions.models import Level, Region

    city = db.session.get(Region, "6404")
    assert (city.name, city.level, city.parent_code, city.sms_signature) == (
        "固原市", Level.prefecture, "64", "【固原市惠农】")
    assert db.session.get(Region, "64").level == Level.province
    assert {c.code: c.name for c in city.children} == {
        "640402": "原州区", "640422": "西吉县", "640423": "隆德县", "640424": "泾源县", "640425": "彭阳县"}
    assert len(list(db.session.scalars(sa.select(Region.code).where(
        Region.level == Level.village, Region.code.like("640425%"))))) == 105
    old_codes = {"640402": "642221", "640422": "642223", "640423": "642224", "640424": "642225", "640425": "642226"}
    # one household moved by the city admin from 彭阳县 to 原州区 (subsidy.demo.moves)
    moved = db.session.scalars(sa.select(HouseholdMove.household_id)).all()
    assert len(moved) == 1
    for county, old in old_codes.items():
        villages = db.session.scalars(sa.select(Region.code).where(
            Region.level == Level.village, Region.code.like(f"{county}%"))).all()
        assert len(villages) == (105 if county == "640425" else 6)
        ids = db.session.scalars(sa.select(Household.id_number).where(Household.region_code.like(f"{county}%"),
                                                                      Household.id.not_in(moved))).all()
        assert len(ids) == 3 * len(villages) - (county == "640425")
        # issued where the holder lives: the old 固原地区 code before 2001, the county's own after
        assert all(ric.is_valid(n) and n[:6] == (old if n[6:10] < "2001" else county) for n in ids)
        roles = set(db.session.scalars(sa.select(User.role).where(User.region_code == county)))
        assert {Role.county_admin, Role.supervisor} <= roles
    for username, role in (("cityadmin", Role.city_admin), ("citysupervisor", Role.city_supervisor)):
        user = db.session.scalar(sa.select(User).where(User.username == username))
        assert (user.role, user.region_code) == (role, "6404")
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
        assert "固原市" in c.get("/home").get_data(as_text=True)


def test_the_demo_moves_a_paid_household_across_counties(loaded, app, db):
    """The city admin's 迁户 from 彭阳县 to 原州区: both counties' supervisors open the household's
    file, with its 彭阳县 subsidy and payment and the question it raised in 原州区."""
    from subsidy.demo import DEMO_PASSWORD
    from subsidy.households.models import Household, HouseholdMove

    move = db.session.scalars(sa.select(HouseholdMove)).one()
    household = db.session.get(Household, move.household_id)
    assert (move.from_region[:6], move.to_region, household.region_code) == ("640425", "640402100201",
                                                                              "640402100201")
    for username in ("supervisor", "supervisor640402"):
        c = app.test_client()
        assert c.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
        html = c.get(f"/households/{household.id}").get_data(as_text=True)
        assert "耕地地力保护补贴" in html and "已发放" in html, username
        assert "迁入前的补贴是否还能领取" in html and "全家迁居原州区三营镇" in html, username


def test_the_demo_attaches_a_county_loaded_before_the_city(app, db):
    """A database migrated to 0022 holds 彭阳县 with no parent: the demo attaches it to 固原市."""
    from subsidy.demo import load_demo
    from subsidy.regions.models import Region

    make_county()
    assert db.session.get(Region, "640425").parent_code is None
    load_demo(households_per_village=0)
    db.session.commit()
    assert db.session.get(Region, "640425").parent_code == "6404"
    assert db.session.get(Region, "640422101203").parent_code == "640422101"


def test_a_county_loaded_without_households_gets_no_story(app, db):
    """The benchmarks load the county with no households and fill the register themselves."""
    from subsidy.demo import load_demo
    from subsidy.filings.models import Filing
    from subsidy.households.models import Household

    load_demo(households_per_village=0)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Filing)) == 0

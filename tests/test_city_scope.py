"""The scope matrix of the city tier (docs/design.md "Jurisdiction"): for every kind of object,
a city user reads every county of the city and nothing of another city; a county user nothing
of another county; a township user nothing of a sibling township. Out of scope is 404 (as if it
did not exist), never 403, never a server error. The city roles write only the city's own acts
(tests/test_city_cases.py, tests/test_city_policies.py): each write they lack is refused with 403."""
from __future__ import annotations

from decimal import Decimal

import pytest

from subsidy.accounts.models import User
from subsidy.accounts.permissions import ROLE_PERMS, Perm
from subsidy.audit import service as audit
from subsidy.errors import AboveCounty
from subsidy.extensions import db
from subsidy.filings.models import FilingState
from subsidy.payments import service as payments
from subsidy.recoveries.models import Recovery
from subsidy.regions.service import county_only_code
from tests.conftest import PASSWORD
from tests.factories import (
    CaseFactory,
    HouseholdFactory,
    MessageFactory,
    PolicyFactory,
    ProjectFactory,
    make_city,
    make_user,
)
from tests.filings_support import make_world, walk_to

# One village in each place: the township observer's own (640425100201), its sibling township's
# (640425101201), each other county of 固原市, and a county of another city (中卫市 6405).
OWN = "640425100201"
SIBLING = "640425101201"
CITY_VILLAGES = (OWN, SIBLING, "640402100201", "640422100201", "640423100201", "640424100201")
OTHER_CITY = "640502100201"
VILLAGES = (*CITY_VILLAGES, OTHER_CITY)

# name: (role, region, the villages whose objects it must see)
OBSERVERS = {
    "city_admin": ("city_admin", "6404", set(CITY_VILLAGES)),
    "city_supervisor": ("city_supervisor", "6404", set(CITY_VILLAGES)),
    "county_admin": ("county_admin", "640425", {OWN, SIBLING}),
    "county_supervisor": ("supervisor", "640425", {OWN, SIBLING}),
    "township_supervisor": ("supervisor", "640425100", {OWN}),
}


# -- what each kind is, how one is made in a village, where it is read -------------------------------
def _household(village):
    return HouseholdFactory(region_code=village).id


def _project(village):
    return ProjectFactory(county_code=village[:6]).id


def _policy(village):
    return PolicyFactory(county_code=village[:6], region_code=village[:6]).id


def _filing(village):
    return make_world(1, village=village, county_code=village[:6]).filing.id


def _entry(village):
    return make_world(1, village=village, county_code=village[:6]).filing.id  # read through its filing


def _batch(village):
    w = make_world(1, village=village, county_code=village[:6])
    walk_to(w, FilingState.county_approved)
    batch = payments.create_batch(w.county, w.project.id).batch
    db.session.commit()
    return batch.id


def _case(village):
    return CaseFactory(region_code=village, assigned_region_code=village[:9]).id


def _message(village):
    return MessageFactory(region_code=village).id


def _recovery(village):
    household = HouseholdFactory(region_code=village)
    db.session.flush()
    recovery = Recovery(county_code=village[:6], region_code=village, household_id=household.id,
                        amount_due=Decimal("105.00"), reason="多报面积")
    db.session.add(recovery)
    db.session.flush()
    return recovery.id


def _user(village):
    return make_user("village_clerk", village).id


def _event(village):
    return audit.record(None, "household.create", "household", 1, region_code=village).id


# kind: (permission to read, make one in a village, list URL, single URL or None)
# County-owned kinds (project, policy, batch) are made once per county: every tier of the county
# reads the county's, so their sibling-township case is the county's own object.
KINDS = {
    "household": (Perm.view_register, _household, "/api/v1/households?per_page=100", "/api/v1/households/{}"),
    "filing": (Perm.view_filings, _filing, "/api/v1/filings?per_page=100", "/api/v1/filings/{}"),
    "entry": (Perm.view_filings, _entry, None, "/api/v1/filings/{}"),
    "batch": (Perm.view_payments, _batch, "/api/v1/payments/batches?per_page=100",
              "/api/v1/payments/batches/{}"),
    "case": (Perm.view_cases, _case, "/api/v1/cases?scope=all&per_page=100", "/api/v1/cases/{}"),
    "message": (Perm.view_sms, _message, "/api/v1/sms/messages?per_page=100", "/sms/messages/{}"),
    "recovery": (Perm.view_recoveries, _recovery, "/api/v1/recoveries?per_page=100", "/recoveries/{}"),
    "policy": (Perm.view_policies, _policy, "/api/v1/policies?per_page=100", "/api/v1/policies/{}"),
    "user": (Perm.manage_users, _user, "/api/v1/users?per_page=100", None),
    "event": (Perm.view_audit, _event, None, None),
    "project": (Perm.view_projects, _project, "/api/v1/projects?per_page=100", "/api/v1/projects/{}"),
}
COUNTY_OWNED = {"project", "policy", "batch"}


def _client(app, role, region):
    """Signed in for the pages and carrying a token for the API."""
    user = make_user(role, region)
    c = app.test_client()
    assert c.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    token = c.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}).json["token"]
    c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token
    c.user = user
    return c


def _made(kind):
    make = KINDS[kind][1]
    villages = VILLAGES
    if kind in COUNTY_OWNED:
        villages = tuple(v for v in VILLAGES if v != SIBLING)  # one per county
    made = {v: make(v) for v in villages}
    db.session.commit()
    return made


def _expected(kind, sees):
    if kind in COUNTY_OWNED:
        return {v for v in sees if v != SIBLING} | ({OWN} if sees & {OWN, SIBLING} else set())
    return sees


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("observer", list(OBSERVERS))
def test_each_tier_reads_its_region_and_nothing_beside_it(app, db, county, observer, kind):
    make_city()
    role, region, sees = OBSERVERS[observer]
    perm, _make, list_url, item_url = KINDS[kind]
    made = _made(kind)
    visible = _expected(kind, sees)
    c = _client(app, role, region)
    may = perm in ROLE_PERMS[c.user.role]

    if kind == "event":
        if may:
            events = {e.id for e in audit.list_events(c.user, per_page=200).items}
            assert {v for v, i in made.items() if i in events} == visible
        else:
            assert c.get("/audit/").status_code == 403
        return

    if list_url:
        resp = c.get(list_url)
        if not may:
            assert resp.status_code == 403, resp.json
        else:
            assert resp.status_code == 200, resp.json
            ids = {item["id"] for item in resp.json["items"]}
            if kind == "user":
                ids.discard(c.user.id)
            assert {v for v, i in made.items() if i in ids} == visible

    if item_url:
        for village, object_id in made.items():
            status = c.get(item_url.format(object_id)).status_code
            if not may:
                assert status == 403, (village, status)
            else:
                assert status == (200 if village in visible else 404), (village, status)

    if kind == "entry" and may:
        for village, filing_id in made.items():
            resp = c.get(f"/api/v1/filings/{filing_id}")
            if village in visible:
                assert [e["id"] for e in resp.json["entries"]], village


# -- the city roles only read --------------------------------------------------------------------------
def _writes(w):
    """Every write the city roles lack, as the API is called for it (each body passes validation,
    so only the permission can refuse it)."""
    h = w.households[0]
    entry_id = db.session.scalar(db.select(db.text("min(id)")).select_from(db.text("filing_entries")))
    return [
        ("post", "/api/v1/filings", {"project_id": w.project.id}),
        ("post", f"/api/v1/filings/{w.filing.id}/entries", {"household_id": h.id}),
        ("post", f"/api/v1/filings/{w.filing.id}/actions/approve", {"version": w.filing.version}),
        ("post", f"/api/v1/filings/{w.filing.id}/entries/{entry_id}/hold", {"reason": "核查"}),
        ("post", "/api/v1/payments/batches", {"project_id": w.project.id}),
        ("post", "/api/v1/projects", {"name": "新项目", "year": 2024, "category": "cash", "unit": "mu",
                                       "rate": "105.00", "budget": "10000.00"}),
        ("post", "/api/v1/policies", {"title": "政策", "body": "正文", "region_code": "640425"}),
        ("post", "/api/v1/cases", {"kind": "inquiry", "channel": "phone", "region_code": "640425100201",
                                    "contact_name": "马大爷", "contact_phone": "13909541234", "subject": "咨询",
                                    "body": "什么时候发放"}),
        ("post", "/api/v1/households", {"region_code": "640425100201", "head_name": "马某",
                                         "id_number": h.id_number}),
        ("patch", f"/api/v1/households/{h.id}", {"phone": "13909541234"}),
        ("post", f"/api/v1/households/{h.id}/transfer", {"region_code": "640402100201"}),
        ("post", "/api/v1/users", {"username": "newone", "password": "Gy-demo-2024-pass", "name": "新人",
                                    "role": "village_clerk", "region_code": "640425100201"}),
        ("post", "/api/v1/recoveries", {"entry_id": entry_id, "amount": "10.00", "reason": "多报"}),
        ("post", "/api/v1/sms/broadcasts", {"body": "通知", "region_code": "640425"}),
        ("post", "/api/v1/accountability", {"region_code": "640425", "person_name": "张某", "post": "村会计",
                                             "measure": "criticism", "document_no": "固纪〔2024〕1号",
                                             "decided_on": "2024-03-01", "summary": "多报面积"}),
    ]


@pytest.mark.parametrize("role", ["city_admin", "city_supervisor"])
def test_the_city_roles_are_refused_every_write(app, db, county, role):
    make_city()
    w = make_world(1, village="640402100201", county_code="640402")
    walk_to(w, FilingState.township_approved)
    c = _client(app, role, "6404")
    # The city's own writes are tested elsewhere: the city admin's 迁户 across counties
    # (tests/test_city_transfers.py) and city-wide policies, the city supervisor's handling of
    # cases and 督办 (tests/test_city_cases.py) and 问责 (tests/test_city_users.py).
    own = {"city_admin": {"/api/v1/policies"}, "city_supervisor": {"/api/v1/accountability"}}[role]
    writes = [(m, url, body) for m, url, body in _writes(w)
              if url not in own and not (role == "city_admin" and url.endswith("/transfer"))]
    refused = {url: getattr(c, method)(url, json=body).status_code for method, url, body in writes}
    # The city admin manages users, but not a village's clerk: a refusal of the role (400).
    expected = {url: 400 if (role, url) == ("city_admin", "/api/v1/users") else 403 for url in refused}
    assert refused == expected
    if role == "city_admin":
        case = CaseFactory(region_code="640402100201", assigned_region_code="640402100")
        db.session.commit()
        for action, body in (("accept", {}), ("reply", {"body": "已发放"}), ("escalate", {"reason": "请加快"}),
                             ("transfer", {"region_code": "640402100", "reason": "转办"})):
            assert c.post(f"/api/v1/cases/{case.id}/{action}", json=body).status_code == 403, action


def test_a_county_only_writer_refuses_an_actor_above_the_county(db, county):
    """Defence in depth below the permissions: a county's own writer never takes a city's code
    as the county's."""
    make_city()
    assert county_only_code(User(region_code="640425100201")) == "640425"
    for code in ("6404", "64"):
        with pytest.raises(AboveCounty) as exc:
            county_only_code(User(region_code=code))
        assert exc.value.message == "此功能仅供县级及以下用户使用"

"""Two reviewers approving the same filing at the same moment (PostgreSQL): exactly one wins,
the other gets 409 (StaleVersion), and there is one review record.

Each reviewer runs in its own thread with its own app context, hence its own session and
connection. Reviewer A approves and holds its transaction open; reviewer B then reads the
filing (still at A's starting version: A has not committed) and tries too, so B's conditional
UPDATE has to wait for A's row lock; A commits; B's UPDATE re-checks `version = :v`, matches
nothing, and B is refused. SQLite serialises writers with BEGIN IMMEDIATE, so the race cannot
happen there (B would simply read A's new version and be refused before any write)."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.errors import StaleVersion
from subsidy.extensions import db
from subsidy.filings import entries, workflow
from subsidy.filings.models import Action, Filing, FilingState, ListStamp, Review
from tests.factories import HouseholdFactory, make_user
from tests.filings_support import make_world, walk_to


def test_two_concurrent_approvals_one_wins_one_gets_409(app, county):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    w = make_world(3)
    f = walk_to(w, FilingState.village_filed)
    second = make_user("township_reviewer", "640425100")
    filing_id, version = f.id, f.version
    reviewer_ids = (w.township.id, second.id)
    db.session.remove()

    a_claimed, a_release, b_started = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def reviewer_a():
        with app.app_context():
            try:
                actor = db.session.get(User, reviewer_ids[0])
                workflow.perform(actor, filing_id, "approve", version=version, comment="A")
                a_claimed.set()
                a_release.wait(10)
                db.session.commit()
                outcome["a"] = "ok"
            except Exception as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                outcome["a"] = exc
            finally:
                a_claimed.set()
                db.session.remove()

    def reviewer_b():
        with app.app_context():
            try:
                actor = db.session.get(User, reviewer_ids[1])
                seen = db.session.get(Filing, filing_id)
                outcome["b_saw_version"] = seen.version
                b_started.set()
                workflow.perform(actor, filing_id, "approve", version=seen.version, comment="B")
                db.session.commit()
                outcome["b"] = "ok"
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                outcome["b"] = exc
            finally:
                b_started.set()
                db.session.remove()

    ta = threading.Thread(target=reviewer_a)
    ta.start()
    assert a_claimed.wait(10)
    tb = threading.Thread(target=reviewer_b)
    tb.start()
    assert b_started.wait(10)
    time.sleep(0.5)  # B is now waiting on A's row lock inside its conditional UPDATE
    assert "b" not in outcome
    a_release.set()
    ta.join(10)
    tb.join(10)

    assert outcome["a"] == "ok"
    assert outcome["b_saw_version"] == version  # B really raced: it read the version A started from
    assert isinstance(outcome["b"], StaleVersion) and outcome["b"].status == 409
    reviews = db.session.scalars(sa.select(Review).where(Review.filing_id == filing_id,
                                                         Review.action == Action.approve)).all()
    assert [r.comment for r in reviews] == ["A"]
    filing = db.session.get(Filing, filing_id)
    assert (filing.state, filing.version) == (FilingState.township_approved, version + 1)


def test_a_household_changed_while_a_clerk_lists_it_still_restamps_the_filing(app, county):
    """Migration 0009 and `entries._hold_households`: the clerk adds a household and holds the
    transaction open; a payout account change of that household waits for the clerk, then
    stamps the filing anew. Without the hold it would not wait, would not see the uncommitted
    entry, and the filing would keep the stamp a reviewer's cached digest is filed under."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    w = make_world(1)
    newcomer = HouseholdFactory(region_code=w.filing.region_code)
    db.session.commit()
    filing_id, clerk_id, household_id = w.filing.id, w.clerk.id, newcomer.id
    db.session.remove()

    def stamp() -> str:
        return db.session.scalar(sa.select(ListStamp.stamp).where(ListStamp.filing_id == filing_id))

    added, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def clerk():
        with app.app_context():
            try:
                entries.add_entry(db.session.get(User, clerk_id), filing_id, household_id)
                outcome["stamp_of_the_add"] = stamp()
                added.set()
                release.wait(10)
                db.session.commit()
            finally:
                added.set()
                db.session.remove()

    def payout_change():
        with app.app_context():
            try:
                db.session.execute(sa.text("UPDATE households SET payout_account = '6231999999999999' WHERE id = :h"),
                                   {"h": household_id})
                db.session.commit()
                outcome["changed"] = "ok"
            finally:
                db.session.remove()

    tc = threading.Thread(target=clerk)
    tc.start()
    assert added.wait(10) and "stamp_of_the_add" in outcome
    tp = threading.Thread(target=payout_change)
    tp.start()
    time.sleep(0.5)
    assert "changed" not in outcome  # it waits for the clerk's hold on the household
    release.set()
    tc.join(10)
    tp.join(10)
    assert outcome["changed"] == "ok"
    assert stamp() != outcome["stamp_of_the_add"]


def test_three_approvals_with_one_version_are_one_200_and_two_409s(app, county, api_as):
    """On both databases: the losers learn the filing moved on (stale version), never that the
    state it moved to needs a role they lack (it used to answer 200, 403, 403 on SQLite)."""
    w = make_world(3)
    f = walk_to(w, FilingState.village_filed)
    clients = [api_as("township_reviewer", "640425100") for _ in range(3)]
    filing_id, version = f.id, f.version
    db.session.remove()
    start = threading.Barrier(3)
    answers: list[tuple[int, str | None]] = []

    def approve(client):
        with app.app_context():
            start.wait(10)
            resp = client.post(f"/api/v1/filings/{filing_id}/actions/approve", json={"version": version})
            answers.append((resp.status_code, (resp.json.get("error") or {}).get("code")))

    threads = [threading.Thread(target=approve, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [(200, None), (409, "stale_version"), (409, "stale_version")]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review).where(
        Review.filing_id == filing_id, Review.action == Action.approve)) == 1

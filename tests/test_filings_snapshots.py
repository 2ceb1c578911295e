"""Snapshots (备案快照): the canonical digest, and changes made behind the workflow's back
showing up loudly on the review page and in GET /filings/{id}."""
from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
import sqlalchemy as sa

from subsidy.errors import InvalidTransition
from subsidy.extensions import db
from subsidy.filings import entries, risk, snapshots
from subsidy.filings.models import Entry, FilingState, ListStamp, Snapshot, SnapshotLine, Stage
from subsidy.households.models import Household
from tests.conftest import PASSWORD
from tests.factories import HouseholdFactory
from tests.filings_support import act, make_world, note_all_flags, walk_to

S = FilingState


def _sign_in(app, user):
    c = app.test_client()
    assert c.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
    return c


def _token(app, user):
    c = app.test_client()
    token = c.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}).json["token"]
    c.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token
    return c


def test_digest_is_the_documented_canonical_form(county):
    w = make_world(3)
    f = walk_to(w, S.publicizing)
    snap = db.session.scalar(sa.select(Snapshot).where(Snapshot.filing_id == f.id))
    rows = db.session.execute(sa.select(Household.id, Household.id_number, Entry.quantity, Entry.amount,
                                        Household.payout_account).join(Entry, Entry.household_id == Household.id)
                              .order_by(Household.id)).all()
    text = "\n".join(f"{hid}|{idn}|{q:.2f}|{a:.2f}|{acct}" for hid, idn, q, a, acct in rows)
    assert snap.digest == hashlib.sha256(text.encode()).hexdigest()
    assert (snap.entry_count, snap.total_amount) == (3, Decimal("3937.50"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SnapshotLine)
                             .where(SnapshotLine.snapshot_id == snap.id)) == 3
    assert snapshots.digest_of(snapshots.live_lines(f.id)).digest == snap.digest


def test_every_digest_field_changes_the_digest():
    base = snapshots.Line(7, "张三", "64042519600101001X", Decimal("12.50"), Decimal("1312.50"), "6231000000000001")
    d0 = snapshots.digest_of([base]).digest
    for field, value in (("id_number", "640425196001010028"), ("quantity", Decimal("12.51")),
                         ("amount", Decimal("1312.51")), ("payout_account", "6231000000000002"),
                         ("household_id", 8)):
        changed = snapshots.Line(**{**base.__dict__, field: value})
        assert snapshots.digest_of([changed]).digest != d0, field
    assert snapshots.digest_of([snapshots.Line(**{**base.__dict__, "quantity": Decimal("12.5")})]).digest == d0


def test_household_added_after_publicity_is_a_mismatch(app, county):
    w = make_world(2)
    f = walk_to(w, S.publicizing)
    sneaked = HouseholdFactory(region_code=f.region_code, head_name="赵冒领")
    db.session.execute(sa.text(
        "INSERT INTO filing_entries (filing_id, project_id, household_id, quantity, amount, created_at, updated_at) "
        "VALUES (:f, :p, :h, 10, 1050, :t, :t)"), {"f": f.id, "p": f.project_id, "h": sneaked.id,
                                                   "t": f.publicized_at.replace(tzinfo=None)})
    db.session.commit()

    body = _token(app, w.township).get(f"/api/v1/filings/{f.id}").json
    assert body["mismatches"] == [{"stage": "current", "compared_with": "publicized", "added": [sneaked.id],
                                   "removed": [], "changed": [],
                                   "message": "当前名单与公示名单不一致（名单在流程之外被改动）：新增 1 户"}]
    page = _sign_in(app, w.township).get(f"/filings/{f.id}").get_data(as_text=True)
    assert "快照不一致" in page and "新增 1 户" in page
    assert 'class="diff"' in page and "赵冒领" in page
    with pytest.raises(InvalidTransition, match="新增 1 户"):
        act(w.clerk, f, "submit")


def test_amount_changed_after_township_approval_is_a_mismatch(app, county):
    w = make_world(3)
    f = walk_to(w, S.township_approved)
    target = w.households[1]
    db.session.execute(sa.text("UPDATE filing_entries SET amount = 9999 WHERE household_id = :h"), {"h": target.id})
    db.session.commit()

    body = _token(app, w.county).get(f"/api/v1/filings/{f.id}").json
    assert [(m["stage"], m["compared_with"], m["changed"]) for m in body["mismatches"]] == [
        ("current", "township", [{"household_id": target.id, "fields": ["amount"]}])]
    assert "变更 1 户（金额）" in body["mismatches"][0]["message"]
    page = _sign_in(app, w.county).get(f"/filings/{f.id}").get_data(as_text=True)
    assert "快照不一致" in page and "9,999.00" in page
    # the county cannot approve a list that is not the one publicized (even once it answered
    # the flag its re-check raised on the changed amount)
    risk.run_checks(f)
    db.session.commit()
    note_all_flags(w.county, f)
    with pytest.raises(InvalidTransition, match="与公示名单不一致（变更 1 户（金额））"):
        act(w.county, f, "approve")
    db.session.rollback()
    assert f.state == S.township_approved


def test_paid_list_differing_from_the_approved_one_is_shown(app, county):
    w = make_world(2)
    f = walk_to(w, S.county_approved)
    db.session.execute(sa.text("UPDATE households SET payout_account = '6231999999999999999' WHERE id = :h"),
                       {"h": w.households[0].id})
    db.session.commit()
    act(w.county, f, "pay", internal=True)
    body = _token(app, w.county).get(f"/api/v1/filings/{f.id}").json
    paid = [m for m in body["mismatches"] if m["stage"] == "paid"]
    assert paid == [{"stage": "paid", "compared_with": "county", "added": [], "removed": [],
                     "changed": [{"household_id": w.households[0].id, "fields": ["payout_account"]}],
                     "message": "发放与县级审定不一致：变更 1 户（一卡通账号）"}]
    assert [s["stage"] for s in body["snapshots"]] == ["publicized", "village", "township", "county", "paid"]


def test_no_mismatch_on_an_honest_filing(app, county):
    w = make_world(2)
    f = walk_to(w, S.county_approved)
    body = _token(app, w.county).get(f"/api/v1/filings/{f.id}").json
    assert body["mismatches"] == []
    assert len({s["digest"] for s in body["snapshots"]}) == 1
    page = _sign_in(app, w.county).get(f"/filings/{f.id}").get_data(as_text=True)
    assert "各级快照与当前名单一致" in page and "快照不一致" not in page
    assert snapshots.find_mismatches(f) == []
    assert [s.stage for s in db.session.scalars(sa.select(Snapshot).order_by(Snapshot.id))] == [
        Stage.publicized, Stage.village, Stage.township, Stage.county]


def _stamp(filing_id: int) -> str:
    stamp = db.session.scalar(sa.select(ListStamp.stamp).where(ListStamp.filing_id == filing_id))
    assert stamp, "every filing gets a stamp row from its insert trigger"
    return stamp


def test_the_list_stamp_changes_with_what_the_digest_covers_and_only_that(county):
    """Migration 0009's triggers: the review page keeps a filing's live digest under its list
    stamp (`ListStamp`), so anything the digest covers, written by the app or with plain SQL,
    must give the filing a new stamp; what it does not cover (a phone, a timestamp) need not."""
    w = make_world(3)
    other = make_world(2, village="640425100202")  # another village's filing must keep its stamp
    f, h = w.filing, w.households[0]

    def changes(sql: str, params: dict, expect: bool) -> None:
        before, before_other = _stamp(f.id), _stamp(other.filing.id)
        db.session.execute(sa.text(sql), params)
        db.session.commit()
        assert (_stamp(f.id) != before) is expect, sql
        assert _stamp(other.filing.id) == before_other, sql

    changes("UPDATE households SET phone = '13900000001' WHERE id = :h", {"h": h.id}, False)
    changes("UPDATE households SET payout_account = '6231999999999999' WHERE id = :h", {"h": h.id}, True)
    changes("UPDATE households SET id_number = '640425196001019999' WHERE id = :h", {"h": h.id}, True)
    changes("UPDATE households SET head_name = '改名' WHERE id = :h", {"h": h.id}, False)
    changes("UPDATE filing_entries SET amount = amount + 1 WHERE household_id = :h", {"h": h.id}, True)
    changes("UPDATE filing_entries SET quantity = quantity + 1 WHERE household_id = :h", {"h": h.id}, True)
    changes("UPDATE filing_entries SET updated_at = created_at WHERE household_id = :h", {"h": h.id}, False)
    changes("DELETE FROM filing_entries WHERE household_id = :h", {"h": h.id}, True)
    # and through the app: a clerk adding a household to the draft
    newcomer = HouseholdFactory(region_code=f.region_code)
    db.session.commit()
    before = _stamp(f.id)
    entries.add_entry(w.clerk, f.id, newcomer.id)
    db.session.commit()
    assert _stamp(f.id) != before


def test_a_change_after_the_page_was_seen_shows_on_the_next_view(app, county):
    """The live digest is cached between views; a listed household's payout account changed
    with plain SQL after a reviewer opened the page still shows, loudly, on the next view."""
    w = make_world(3)
    f = walk_to(w, S.township_approved)
    reviewer = _sign_in(app, w.county)
    assert "快照不一致" not in reviewer.get(f"/filings/{f.id}").get_data(as_text=True)
    assert "快照不一致" not in reviewer.get(f"/filings/{f.id}").get_data(as_text=True)  # from the cache
    db.session.execute(sa.text("UPDATE households SET payout_account = '6231999999999999' WHERE id = :h"),
                       {"h": w.households[1].id})
    db.session.commit()
    page = reviewer.get(f"/filings/{f.id}").get_data(as_text=True)
    assert "快照不一致" in page and "变更 1 户（一卡通账号）" in page

"""更正/补报 (docs/design.md "Supervision with consequences"): the county reopens a paid filing;
the village changes only what needs changing; the board shows only the changed lines; on the
county's approval a removed paid entry owes back exactly what was paid and a raised one is paid
only the difference."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from subsidy.extensions import db
from subsidy.filings import entries, snapshots, workflow
from subsidy.filings.models import Entry, Filing, FilingState, Review, Snapshot, Stage
from subsidy.notify.models import Message
from subsidy.payments.models import Payment, PaymentStatus
from subsidy.public.service import village_board
from subsidy.recoveries.models import Recovery, RecoveryState
from tests.factories import HouseholdFactory
from tests.filings_support import act, note_all_flags
from tests.payments_support import PAID_AT, approved_world, payments_of, post_results

VILLAGE = "640425100201"


def _pay_all(api, w):
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])
    with time_machine.travel(PAID_AT, tick=False):
        r = post_results(api, b["id"], [(x.disbursement_id, "成功", "", f"B{x.id}", str(x.amount)) for x in p])
    assert r.status_code == 200, r.json
    return p


def _reopen(api, f, reason="县纪委核查：一户已迁出，一户漏报"):
    db.session.expire_all()
    version = db.session.get(Filing, f.id).version
    return api.post(f"/api/v1/filings/{f.id}/actions/reopen", json={"version": version, "reason": reason})


def test_a_paid_filing_is_corrected_and_the_money_follows(api_as, county):
    api = api_as("county_reviewer")
    w = approved_world(3)
    p = _pay_all(api, w)
    f = db.session.get(Filing, w.filing.id)
    assert f.state == FilingState.paid
    approved_round = f.round
    removed, raised, kept = (db.session.get(Entry, x.entry_id) for x in p)
    paid_removed = p[0].amount

    assert _reopen(api, f, reason="").status_code == 400                     # a reason is required
    assert api_as("township_reviewer", VILLAGE[:9]).post(
        f"/api/v1/filings/{f.id}/actions/reopen", json={"version": f.version, "reason": "x"}).status_code == 403
    r = _reopen(api, f)
    assert r.status_code == 200 and (r.json["state"], r.json["round"]) == ("draft", approved_round)
    reopened = db.session.scalar(sa.select(Review).where(Review.filing_id == f.id, Review.action == "reopen"))
    assert reopened.comment.startswith("县纪委核查")
    assert db.session.scalars(sa.select(Message.template).where(Message.template == "filing_reopened")).all()

    # The village changes only what needs changing. A paid household cannot be deleted: its
    # amount goes to 0; one missed is added.
    clerk = w.clerk
    with time_machine.travel(PAID_AT + timedelta(days=1), tick=False):
        refused = api_as("village_clerk", VILLAGE).delete(f"/api/v1/filings/{f.id}/entries/{removed.id}")
        assert refused.status_code == 409 and "金额改为 0" in refused.json["error"]["message"]
        entries.update_entry(clerk, f.id, removed.id, None, "0")
        entries.update_entry(clerk, f.id, raised.id, None, str(raised.amount + Decimal("100.00")))
        missed = HouseholdFactory(region_code=VILLAGE, head_name="漏报户")
        entries.add_entry(clerk, f.id, missed.id)
        db.session.commit()
    diff = snapshots.correction_diff(db.session.get(Filing, f.id))
    assert [line.household_id for line in diff.added] == [missed.id]
    assert sorted(b.household_id for _a, b, _f in diff.changed) == sorted([removed.household_id, raised.household_id])

    start = PAID_AT + timedelta(days=2)
    f = act(clerk, db.session.get(Filing, f.id), "publicize", at=start)
    assert f.round == approved_round + 1
    board = village_board(VILLAGE)
    [notice] = board.publicizing
    assert notice.correction and len(notice.lines) == 3                       # only the changed lines
    assert {line.change for line in notice.lines} == {"取消", "变更", "新增"}
    assert kept.id not in {line.entry_id for line in notice.lines}

    f = act(clerk, f, "submit")
    note_all_flags(w.township, f)
    f = act(w.township, f, "approve")
    note_all_flags(w.county, f)
    f = act(w.county, f, "approve")
    assert f.state == FilingState.county_approved and f.correction_of_round is None
    counties = db.session.scalars(sa.select(Snapshot.round).where(Snapshot.filing_id == f.id,
                                                                  Snapshot.stage == Stage.county)).all()
    assert sorted(counties) == [approved_round, approved_round + 1]          # each round its own

    owed = db.session.scalars(sa.select(Recovery)).all()
    assert [(r.entry_id, r.amount_due, r.state, r.source) for r in owed] == [
        (removed.id, paid_removed, RecoveryState.open, "correction")]       # exactly what was paid
    told = db.session.scalars(sa.select(Message.household_id).where(Message.template == "filing_approved",
                                                                    Message.key.like(f"%:r{f.round}:%"))).all()
    assert sorted(told) == sorted([raised.household_id, missed.id])          # only those it changed

    from subsidy.payments import service as payments

    waiting = {p.id: n for p, n, _failed in payments.projects_with_approved(w.county)}
    assert waiting[w.project.id] == 2   # the raise and the household added: the 发放 page offers them
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    new = {x.entry_id: x for x in payments_of(b["id"])}
    assert set(new) == {raised.id, db.session.scalar(sa.select(Entry.id).where(Entry.household_id == missed.id))}
    assert new[raised.id].amount == Decimal("100.00") and new[raised.id].part == 2   # only the difference
    with time_machine.travel(PAID_AT + timedelta(days=20), tick=False):
        post_results(api, b["id"], [(x.disbursement_id, "成功", "", f"C{x.id}", str(x.amount)) for x in new.values()])
    db.session.expire_all()
    assert db.session.get(Filing, f.id).state == FilingState.paid
    paid_raised = db.session.scalar(sa.select(sa.func.sum(Payment.amount)).where(
        Payment.entry_id == raised.id, Payment.status == PaymentStatus.paid))
    assert paid_raised == db.session.get(Entry, raised.id).amount

    # The dashboard's 问题处置 block counts them.
    sup = api_as("supervisor").get(f"/api/v1/stats/summary?year={w.project.year}").json["supervision"]
    assert sup == {"problems": 0, "held": 0, "corrections": 1, "recovery_due": str(paid_removed),
                   "recovered": "0.00", "written_off": "0.00", "accountability": 0}


def test_reopen_is_refused_before_approval_and_by_the_wrong_tier(api_as, county):
    from tests.filings_support import make_world, walk_to

    w = make_world(1)
    f = walk_to(w, FilingState.township_approved)
    r = api_as("county_reviewer").post(f"/api/v1/filings/{f.id}/actions/reopen",
                                       json={"version": f.version, "reason": "x"})
    assert r.status_code == 409
    f = act(w.county, f, "approve")
    r = api_as("village_clerk", VILLAGE).post(f"/api/v1/filings/{f.id}/actions/reopen",
                                             json={"version": f.version, "reason": "x"})
    assert r.status_code == 403
    ok = workflow.perform(w.county, f.id, "reopen", version=f.version, reason="核查")
    assert ok.state == FilingState.draft

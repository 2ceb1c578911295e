"""止付 (docs/design.md "Supervision with consequences"): a held entry is in no batch made after
the hold, its pending payment is cancelled while the bank has not had the file and its result is
not applied while the hold lasts once it has; the farmer reads the hold without its reason."""
from __future__ import annotations

import json

import sqlalchemy as sa
import time_machine

from subsidy.audit.models import AuditEvent
from subsidy.extensions import db
from subsidy.filings.models import Entry, EntryHold, Filing, FilingState, HoldStatus
from subsidy.notify.models import Message
from subsidy.payments.models import BatchStatus, Payment, PaymentBatch, PaymentStatus
from tests.farmer_support import code_sent_to
from tests.payments_support import PAID_AT, approved_world, payments_of, post_results

REASON = "村民实名举报该户已迁出本村"


def _entries(w):
    return db.session.scalars(sa.select(Entry).where(Entry.filing_id == w.filing.id).order_by(Entry.id)).all()


def _hold(api, w, entry, reason=REASON, release=False):
    verb = "release" if release else "hold"
    return api.post(f"/api/v1/filings/{w.filing.id}/entries/{entry.id}/{verb}", json={"reason": reason})


def test_a_held_entry_is_in_no_batch_made_after_the_hold_and_the_household_is_told(api_as, county):
    w = approved_world(3)
    held = _entries(w)[1]
    api = api_as("county_reviewer")
    r = _hold(api, w, held)
    assert r.status_code == 200 and r.json == {"entry_id": held.id, "held": True}
    shown = {e["id"]: e for e in api.get(f"/api/v1/filings/{w.filing.id}").json["entries"]}
    assert shown[held.id]["held"] is True and shown[held.id]["hold_reason"] == REASON
    assert [e["held"] for i, e in shown.items() if i != held.id] == [False, False]

    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    assert b["payment_count"] == 2 and held.id not in {p.entry_id for p in payments_of(b["id"])}
    sms = db.session.scalars(sa.select(Message).where(Message.template == "entry_held")).all()
    assert len(sms) == 1 and sms[0].entry_id == held.id and "暂停发放" in sms[0].body
    assert "举报" not in sms[0].body and "迁出" not in sms[0].body   # never the reason
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "filing.entry_hold")).one()
    detail = json.loads(event.detail)
    assert detail["reason"] == REASON and detail["entry_id"] == held.id


def test_a_pending_payment_not_yet_exported_is_cancelled_and_the_batch_follows(api_as, county):
    w = approved_world(2)
    first, second = _entries(w)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    total = sum(p.amount for p in payments_of(b["id"]))
    assert _hold(api, w, first).status_code == 200
    db.session.expire_all()
    batch = db.session.get(PaymentBatch, b["id"])
    cancelled = db.session.scalar(sa.select(Payment).where(Payment.entry_id == first.id))
    assert cancelled.status == PaymentStatus.cancelled
    assert batch.payment_count == 1 and batch.total_amount == total - cancelled.amount
    assert batch.status == BatchStatus.open
    assert _hold(api, w, second).status_code == 200   # the batch is left empty: withdrawn
    db.session.expire_all()
    assert db.session.get(PaymentBatch, b["id"]).status == BatchStatus.cancelled
    # Both held with nothing in the bank's hands: the filing is settled.
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid


def test_an_exported_payments_result_waits_for_the_release(api_as, county):
    w = approved_world(2)
    first, second = _entries(w)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    assert api.get(f"/api/v1/payments/batches/{b['id']}/file").status_code == 200   # exported
    p = payments_of(b["id"])
    assert _hold(api, w, first).status_code == 200
    db.session.expire_all()
    assert db.session.get(Payment, p[0].id).status == PaymentStatus.pending   # the bank has it
    rows = [(x.disbursement_id, "成功", "", f"B{x.id}", str(x.amount)) for x in p]
    with time_machine.travel(PAID_AT, tick=False):
        r = post_results(api, b["id"], rows)
    assert r.status_code == 200, r.json
    assert r.json["paid"] == 1 and [x["kind"] for x in r.json["problems"]] == ["held"]
    db.session.expire_all()
    assert db.session.get(Payment, p[0].id).status == PaymentStatus.pending
    assert db.session.get(Filing, w.filing.id).state == FilingState.county_approved

    assert _hold(api, w, first, reason="", release=True).status_code == 400   # a release needs a reason too
    assert _hold(api, w, first, reason="核实：该户仍在本村居住", release=True).json == {"entry_id": first.id,
                                                                                     "held": False}
    with time_machine.travel(PAID_AT, tick=False):
        again = post_results(api, b["id"], rows)
    assert again.json["paid"] == 1 and again.json["problems"] == []
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid
    told = db.session.scalars(sa.select(Message.template).where(Message.entry_id == first.id)
                              .order_by(Message.id)).all()
    assert [t for t in told if t.startswith("entry_")] == ["entry_held", "entry_released"]
    hold = db.session.scalars(sa.select(EntryHold)).one()
    assert hold.status == HoldStatus.released and hold.release_reason == "核实：该户仍在本村居住"


def test_who_may_hold_and_what_is_refused(api_as, county):
    w = approved_world(2)
    first, second = _entries(w)
    for role, code in (("village_clerk", "640425100201"), ("township_reviewer", "640425100"),
                       ("county_admin", None)):
        assert _hold(api_as(role, code), w, first).status_code == 403, role
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    RegionFactory(code="640402", name="原州区", level=Level.county)
    db.session.commit()
    other = api_as("supervisor", "640402")
    assert _hold(other, w, first).status_code == 404            # another county's filing does not exist
    supervisor = api_as("supervisor")
    assert _hold(supervisor, w, first, reason=" ").status_code == 400
    assert _hold(supervisor, w, first).status_code == 200        # 纪检 may hold
    again = _hold(supervisor, w, first)
    assert again.status_code == 409 and "已止付" in again.json["error"]["message"]
    assert _hold(supervisor, w, second, release=True).status_code == 409   # nothing to release
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryHold)) == 1


def test_a_filing_not_yet_approved_or_a_paid_entry_cannot_be_held(api_as, county):
    from tests.filings_support import make_world, walk_to

    w = make_world(1)
    walk_to(w, FilingState.township_approved)
    api = api_as("county_reviewer")
    r = _hold(api, w, _entries(w)[0])
    assert r.status_code == 409 and "县级审定后才能止付" in r.json["error"]["message"]

    paid = approved_world(1)
    b = api.post("/api/v1/payments/batches", json={"project_id": paid.project.id}).json
    p = payments_of(b["id"])
    with time_machine.travel(PAID_AT, tick=False):
        post_results(api, b["id"], [(p[0].disbursement_id, "成功", "", "B1", str(p[0].amount))])
    r = _hold(api, paid, _entries(paid)[0])
    assert r.status_code == 409 and "追回" in r.json["error"]["message"]


def test_the_farmer_reads_the_hold_without_its_reason(api_as, client, county):
    w = approved_world(1)
    entry = _entries(w)[0]
    household = w.households[0]
    assert _hold(api_as("county_reviewer"), w, entry).status_code == 200
    db.session.commit()
    assert client.post("/m/login", data={"id_number": household.id_number, "phone": household.phone}).status_code == 200
    assert client.post("/m/login/code", data={"code": code_sent_to(db, household.phone)}).status_code == 302
    page = client.get("/m/me").get_data(as_text=True)
    assert "暂停发放，正在核查" in page
    assert REASON not in page and "举报" not in page


def test_the_review_page_shows_the_hold_and_holds_through_the_form(login_as, county):
    w = approved_world(2)
    entry = _entries(w)[0]
    web = login_as("county_reviewer")
    page = web.get(f"/filings/{w.filing.id}").get_data(as_text=True)
    assert f"/filings/{w.filing.id}/entries/{entry.id}/hold" in page and "确认止付" in page
    refused = web.post(f"/filings/{w.filing.id}/entries/{entry.id}/hold", data={"reason": ""}, follow_redirects=True)
    assert "原因" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EntryHold)) == 0
    r = web.post(f"/filings/{w.filing.id}/entries/{entry.id}/hold", data={"reason": REASON}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "已止付，已短信告知农户" in text and f'id="hold-{entry.id}"' in text and REASON in text
    assert "确认解除" in text
    clerk = login_as("village_clerk", "640425100201").get(f"/filings/{w.filing.id}").get_data(as_text=True)
    assert f'id="hold-{entry.id}"' in clerk and "确认止付" not in clerk   # the clerk sees it, cannot act

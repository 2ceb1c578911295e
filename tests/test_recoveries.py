"""追回 and 核销 (docs/design.md "Supervision with consequences"): a recovery of a paid entry,
repayments until it is recovered, write-offs that take two people, and a failed payment written
off that lets its filing reach 已发放."""
from __future__ import annotations

import sqlalchemy as sa
import time_machine

from subsidy.audit.models import AuditEvent
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.notify.models import Message
from subsidy.recoveries.models import Recovery, RecoveryState, WriteOff
from tests.payments_support import PAID_AT, approved_world, payments_of, post_results


def _paid_world(api, n=2, fail=()):
    """A county-approved filing of `n` households, paid (the indexes in `fail` failed)."""
    w = approved_world(n)
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])
    rows = [(x.disbursement_id, "失败" if i in fail else "成功", "账户已销户" if i in fail else "", f"B{x.id}",
             str(x.amount)) for i, x in enumerate(p)]
    with time_machine.travel(PAID_AT, tick=False):
        r = post_results(api, b["id"], rows)
    assert r.status_code == 200, r.json
    return w, p


def test_a_recovery_is_repaid_in_parts_until_recovered(api_as, county):
    api = api_as("county_reviewer")
    w, p = _paid_world(api)
    entry_id = p[0].entry_id
    too_much = api.post("/api/v1/recoveries", json={"entry_id": entry_id, "amount": str(p[0].amount + 1),
                                                   "reason": "多报面积"})
    assert too_much.status_code == 400 and "不能超过" in too_much.json["error"]["fields"]["amount"]
    r = api.post("/api/v1/recoveries", json={"entry_id": entry_id, "amount": "500.00", "reason": "多报面积 4.76 亩"})
    assert r.status_code == 201, r.json
    rec = r.json
    assert (rec["amount_due"], rec["amount_recovered"], rec["state"]) == ("500.00", "0.00", "open")
    sms = db.session.scalars(sa.select(Message).where(Message.template == "recovery_due")).one()
    assert "500.00" in sms.body and "缴回" in sms.body and sms.household_id == p[0].household_id

    bad = api.post(f"/api/v1/recoveries/{rec['id']}/repayments",
                   json={"amount": "600.00", "paid_on": "2017-07-01", "receipt_no": "XJ001", "method": "cash"})
    assert bad.status_code == 400 and "不能超过 500.00 元" in bad.json["error"]["fields"]["amount"]
    future = api.post(f"/api/v1/recoveries/{rec['id']}/repayments",
                      json={"amount": "100.00", "paid_on": "2999-01-01", "receipt_no": "XJ001", "method": "cash"})
    assert future.status_code == 400 and "paid_on" in future.json["error"]["fields"]
    for amount, receipt in (("200.00", "XJ001"), ("300.00", "XJ002")):
        r = api.post(f"/api/v1/recoveries/{rec['id']}/repayments",
                     json={"amount": amount, "paid_on": "2017-07-01", "receipt_no": receipt,
                           "method": "card_deduction"})
        assert r.status_code == 201, r.json
    listed = api.get("/api/v1/recoveries?state=recovered").json["items"]
    assert [(x["id"], x["amount_recovered"], x["state"]) for x in listed] == [(rec["id"], "500.00", "recovered")]
    again = api.post(f"/api/v1/recoveries/{rec['id']}/repayments",
                     json={"amount": "1.00", "paid_on": "2017-07-01", "receipt_no": "XJ003", "method": "cash"})
    assert again.status_code == 409
    # Recoveries of one entry never ask back more than was paid.
    rest = p[0].amount - 500
    assert api.post("/api/v1/recoveries", json={"entry_id": entry_id, "amount": str(rest + 1),
                                                "reason": "x"}).status_code == 400
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("recovery.%"))).all()
    assert actions == ["recovery.create", "recovery.repayment", "recovery.repayment"]


def test_an_unpaid_entry_is_not_recovered_and_only_the_county_reviewer_records(api_as, county):
    api = api_as("county_reviewer")
    w = approved_world(1)
    entry_id = db.session.scalar(sa.select(Entry.id).where(Entry.filing_id == w.filing.id))
    r = api.post("/api/v1/recoveries", json={"entry_id": entry_id, "amount": "10.00", "reason": "x"})
    assert r.status_code == 409 and "止付" in r.json["error"]["message"]
    for role, code in (("village_clerk", "640425100201"), ("supervisor", None), ("county_admin", None)):
        r = api_as(role, code).post("/api/v1/recoveries", json={"entry_id": entry_id, "amount": "10.00",
                                                                 "reason": "x"})
        assert r.status_code == 403, role
    assert api_as("supervisor").get("/api/v1/recoveries").status_code == 200
    assert api_as("village_clerk", "640425100201").get("/api/v1/recoveries").status_code == 403


def test_a_write_off_takes_two_people(api_as, county):
    proposer = api_as("county_reviewer")
    w, p = _paid_world(proposer, n=1)
    rec = proposer.post("/api/v1/recoveries", json={"entry_id": p[0].entry_id, "amount": "100.00",
                                                    "reason": "重复申报"}).json
    r = proposer.post(f"/api/v1/recoveries/{rec['id']}/write-off", json={"reason": "户主已去世，无可执行财产"})
    assert r.status_code == 200 and r.json["write_off"]["state"] == "proposed"
    w_id = r.json["write_off"]["id"]
    again = proposer.post(f"/api/v1/recoveries/{rec['id']}/write-off", json={"reason": "再次"})
    assert again.status_code == 409
    same = proposer.post(f"/api/v1/write-offs/{w_id}/approve")
    assert same.status_code == 403 and "提出人以外" in same.json["error"]["message"]
    assert api_as("county_admin").post(f"/api/v1/write-offs/{w_id}/approve").status_code == 403
    ok = api_as("supervisor").post(f"/api/v1/write-offs/{w_id}/approve")
    assert ok.status_code == 200 and ok.json["state"] == "approved"
    db.session.expire_all()
    assert db.session.get(Recovery, rec["id"]).state == RecoveryState.written_off
    assert api_as("county_reviewer").post(f"/api/v1/write-offs/{w_id}/approve").status_code == 409


def test_the_schema_refuses_a_write_off_approved_by_its_proposer(api_as, county):
    """Whatever the code above does: the CHECK two_people."""
    import pytest

    api = api_as("county_reviewer")
    w, p = _paid_world(api, n=1)
    rec = api.post("/api/v1/recoveries", json={"entry_id": p[0].entry_id, "amount": "1.00", "reason": "x"}).json
    wid = api.post(f"/api/v1/recoveries/{rec['id']}/write-off", json={"reason": "y"}).json["write_off"]["id"]
    proposer = db.session.get(WriteOff, wid).proposed_by
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(sa.text("UPDATE write_offs SET approved_by = :u, approved_at = CURRENT_TIMESTAMP "
                                   "WHERE id = :i"), {"u": proposer, "i": wid})
    db.session.rollback()


def test_a_failed_payment_written_off_settles_its_filing(api_as, county):
    api = api_as("county_reviewer")
    w, p = _paid_world(api, n=2, fail=(1,))
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.county_approved
    assert api.post(f"/api/v1/payments/{p[0].id}/write-off", json={"reason": "x"}).status_code == 409   # paid
    r = api.post(f"/api/v1/payments/{p[1].id}/write-off", json={"reason": "户主去世，无继承人账户"})
    assert r.status_code == 200
    # Proposed: it is re-issued no more, and no longer waits among the failures.
    failed = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id, "uncorrected": "include"})
    assert failed.status_code == 409
    ok = api_as("supervisor").post(f"/api/v1/write-offs/{r.json['write_off']['id']}/approve")
    assert ok.status_code == 200
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid


def test_the_pages_record_a_recovery_repayments_and_a_write_off(api_as, login_as, county):
    api = api_as("county_reviewer")
    w, p = _paid_world(api, n=2, fail=(1,))
    web = login_as("county_reviewer")
    filing_page = web.get(f"/filings/{w.filing.id}").get_data(as_text=True)
    assert f"/recoveries/new?entry_id={p[0].entry_id}" in filing_page          # the paid entry
    assert f"/recoveries/new?entry_id={p[1].entry_id}" not in filing_page      # the failed one: nothing to recover
    form = web.get(f"/recoveries/new?entry_id={p[0].entry_id}").get_data(as_text=True)
    assert "最多还可追回" in form
    bad = web.post("/recoveries/new", data={"entry_id": p[0].entry_id, "amount": "abc", "reason": "多报"})
    assert bad.status_code == 422 and "金额应为数字" in bad.get_data(as_text=True)
    assert 'value="abc"' in bad.get_data(as_text=True)
    r = web.post("/recoveries/new", data={"entry_id": p[0].entry_id, "amount": "100", "reason": "多报 1 亩"})
    assert r.status_code == 302
    rid = db.session.scalar(sa.select(Recovery.id))
    page = web.post(f"/recoveries/{rid}/repayments", data={"amount": "40", "paid_on": "2017-07-01", "receipt_no": "",
                                                           "method": "cash"})
    assert page.status_code == 422 and "收据编号" in page.get_data(as_text=True)
    ok = web.post(f"/recoveries/{rid}/repayments", data={"amount": "40", "paid_on": "2017-07-01",
                                                         "receipt_no": "XJ9", "method": "cash"}, follow_redirects=True)
    assert "已登记缴回" in ok.get_data(as_text=True) and "60.00 元" in ok.get_data(as_text=True)

    failed = web.get("/payments/failed").get_data(as_text=True)
    assert f'id="write-off-{p[1].id}"' in failed
    r = web.post(f"/payments/{p[1].id}/write-off", data={"reason": "户主去世"}, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "已提出核销" in text and "本人提出，须由他人审批" in text
    wid = db.session.scalar(sa.select(WriteOff.id))
    refused = web.post(f"/write-offs/{wid}/approve", follow_redirects=True)
    assert "提出人以外" in refused.get_data(as_text=True)
    supervisor = login_as("supervisor")
    done = supervisor.post(f"/write-offs/{wid}/approve", follow_redirects=True)
    assert "已审批核销" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Filing, w.filing.id).state == FilingState.paid

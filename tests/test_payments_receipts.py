"""回访 (the receipt check): the farmer's answer, the county's reproducible sample."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.errors import Conflict, NotFound
from subsidy.extensions import db
from subsidy.notify.models import Message
from subsidy.payments import receipts
from subsidy.payments.models import Payment, PaymentStatus, ReceiptAnswer, ReceiptSampleMember
from subsidy.public.service import my_entries
from tests.payments_support import PAID_AT, approved_world, payments_of, post_results


def paid_world(api_as, n=5, fail=()):
    """A filing paid through a batch and one result file; `fail` lists seqs the bank refused."""
    w = approved_world(n)
    api = api_as("county_reviewer")
    with time_machine.travel(PAID_AT, tick=False):
        b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
        pays = payments_of(b["id"])
        rows = [(p.disbursement_id, "失败" if p.seq in fail else "成功", "账号不存在" if p.seq in fail else "",
                 f"B{p.seq}", "1312.50") for p in pays]
        assert post_results(api, b["id"], rows).status_code == 200
    db.session.expire_all()
    return w, api, payments_of(b["id"])


def test_farmer_confirms_receipt_of_their_own_paid_money_only(api_as, county):
    w, _api, pays = paid_world(api_as, 2, fail=(2,))
    paid, failed = pays
    # The two buttons show on the paid entry only, and name its payment.
    assert {e.entry_id: e.payment_id for e in my_entries(paid.household_id) if e.payment_id} == {paid.entry_id: paid.id}
    assert receipts.confirm_receipt(paid.household_id, paid.id).receipt == ReceiptAnswer.confirmed
    assert receipts.confirm_receipt(paid.household_id, paid.id).receipt == ReceiptAnswer.confirmed  # idempotent
    with pytest.raises(NotFound):
        receipts.confirm_receipt(failed.household_id, paid.id)  # someone else's money
    with pytest.raises(Conflict):
        receipts.confirm_receipt(failed.household_id, failed.id)  # never paid
    # "My subsidies" learns from this area what became of the money.
    mine = {e.entry_id: e for e in my_entries(paid.household_id)}
    assert mine[paid.entry_id].stage == "已发放" and mine[paid.entry_id].account_tail == paid.payout_account[-4:]
    theirs = {e.entry_id: e for e in my_entries(failed.household_id)}
    assert theirs[failed.entry_id].stage == "发放失败" and "账号不存在" in theirs[failed.entry_id].advice


def test_the_county_sample_is_random_reproducible_and_counted_per_village(api_as, login_as, county):
    w, _api, pays = paid_world(api_as, 6)
    county_rev = db.session.get(type(w.county), w.county.id)
    sample = receipts.draw_sample(county_rev, w.project.id, 3, seed=20171208)
    db.session.commit()
    members = sorted(db.session.scalars(sa.select(ReceiptSampleMember.payment_id)
                                        .where(ReceiptSampleMember.sample_id == sample.id)))
    assert len(members) == 3 and sample.population == 6 and sample.seed == 20171208
    assert receipts.redraw_matches(sample)
    again = receipts.draw_sample(county_rev, w.project.id, 3, seed=20171208)
    assert sorted(db.session.scalars(sa.select(ReceiptSampleMember.payment_id)
                                     .where(ReceiptSampleMember.sample_id == again.id))) == members
    sms = db.session.scalars(sa.select(Message).where(Message.template == "receipt_check")).all()
    assert len(sms) == 6 and {m.key for m in sms} >= {f"receipt_check:{sample.id}:{pid}" for pid in members}
    # filed under the county: the village's clerk must not learn who will be asked
    assert {m.region_code for m in sms} == {"640425"}
    assert api_as("village_clerk", "640425100201").get("/api/v1/sms/messages?template=receipt_check").json["total"] == 0
    first = db.session.get(Payment, members[0])
    receipts.confirm_receipt(first.household_id, first.id)
    db.session.commit()
    _s, rows = receipts.sample_results(county_rev, sample.id)
    assert [(r.code, r.sampled, r.confirmed, r.denied, r.unanswered) for r in rows] == [
        ("640425100201", 3, 1, 0, 2)]
    page = login_as("county_reviewer").get(f"/payments/receipts/{sample.id}")
    assert page.status_code == 200 and "结果一致" in page.text and "20171208" in page.text
    # Every sample a page lists opens for that viewer: the village's list does not link the county's.
    clerk = login_as("village_clerk", "640425100201")
    listing = clerk.get("/payments/receipts").text
    assert f"/payments/receipts/{sample.id}" not in listing and 'id="receipts-hint"' in listing
    assert clerk.get(f"/payments/receipts/{sample.id}").status_code == 404
    admin_list = login_as("county_admin").get("/payments/receipts").text
    assert f"/payments/receipts/{sample.id}" in admin_list
    # Only the county reviewer draws; a township reviewer may not.
    r = login_as("township_reviewer", "640425100").post(
        "/payments/receipts", data={"project_id": str(w.project.id), "size": "2"})
    assert r.status_code == 403
    assert all(p.status == PaymentStatus.paid for p in pays)


def test_not_received_opens_a_complaint_for_the_county_hidden_from_the_village(api_as, county):
    """What it must show: "没有收到" → a complaint in the county's queue, invisible to the
    village clerk, linked to the payment."""
    from subsidy.audit.models import AuditEvent
    from subsidy.cases.models import Case, CaseKind

    w, _api, pays = paid_world(api_as, 2)
    paid = pays[0]
    with time_machine.travel(PAID_AT + timedelta(days=3), tick=False):
        payment, case = receipts.deny_receipt(paid.household_id, paid.id, note="一卡通里一直没有这笔钱")
        db.session.commit()
        with pytest.raises(Conflict):
            receipts.deny_receipt(paid.household_id, paid.id)
        with pytest.raises(Conflict):
            receipts.confirm_receipt(paid.household_id, paid.id)
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    payment = db.session.get(Payment, paid.id)
    assert payment.receipt == ReceiptAnswer.denied and payment.receipt_case_id == case.id
    assert case.kind == CaseKind.complaint and case.assigned_region_code == "640425"
    assert case.region_code == paid.region_code and case.entry_id == paid.entry_id
    assert case.household_id == paid.household_id and paid.disbursement_id in case.body
    detail = db.session.scalars(sa.select(AuditEvent.detail).where(AuditEvent.action == "case.receive")).one()
    assert f'"payment_id":{paid.id}' in detail

    county_queue = api_as("county_reviewer").get("/api/v1/cases?scope=mine").json
    assert [c["id"] for c in county_queue["items"]] == [case.id]
    clerk = api_as("village_clerk", paid.region_code)
    assert clerk.get("/api/v1/cases?scope=all").json["total"] == 0
    assert clerk.get(f"/api/v1/cases/{case.id}").status_code == 404
    assert api_as("township_reviewer", "640425100").get("/api/v1/cases?scope=mine").json["total"] == 0
    # The county's receipt figures count the denial.
    county_rev = db.session.get(type(w.county), w.county.id)
    assert receipts.receipt_figures(county_rev, w.project.id) == {"paid": 2, "confirmed": 0, "denied": 1}


def test_the_farmer_answers_on_my_subsidies(app, api_as, county):
    """The two buttons on /m/me, through HTTP as the farmer's phone sends them: only for the
    signed-in household's own paid payment; 没有收到 lands in the county's queue."""
    from subsidy.cases.models import Case
    from subsidy.households.models import Household
    from tests.test_public import sign_in

    _w, _api, pays = paid_world(api_as, 2)
    mine, theirs = pays
    household = db.session.get(Household, mine.household_id)
    phone = app.test_client()
    sign_in(phone, db, household)
    page = phone.get("/m/me").get_data(as_text=True)
    assert f'/m/payments/{mine.id}/receipt' in page and "没有收到" in page
    assert f'/m/payments/{theirs.id}/receipt' not in page
    # another household's payment id in the URL is "not found" and changes nothing
    assert phone.post(f"/m/payments/{theirs.id}/receipt", data={"answer": "denied"}).status_code == 404
    assert phone.post(f"/m/payments/{theirs.id}/receipt", data={"answer": "denied", "sure": "1"}).status_code == 404
    # 没有收到 asks first, on a page of its own (the farmers' pages run no script), and files nothing yet
    ask = phone.post(f"/m/payments/{mine.id}/receipt", data={"answer": "denied"})
    assert ask.status_code == 200 and "确定没有收到这笔钱" in ask.text and 'name="sure" value="1"' in ask.text
    assert "<script" not in ask.text and "onsubmit" not in page
    db.session.expire_all()
    assert db.session.get(Payment, mine.id).receipt is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    resp = phone.post(f"/m/payments/{mine.id}/receipt", data={"answer": "denied", "sure": "1", "note": "没到账"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Payment, theirs.id).receipt is None
    payment = db.session.get(Payment, mine.id)
    case = db.session.get(Case, payment.receipt_case_id)
    assert payment.receipt == ReceiptAnswer.denied and case.assigned_region_code == "640425"
    assert "县里正在核查" in phone.get("/m/me").get_data(as_text=True)

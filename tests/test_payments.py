"""Disbursement: approval → batch → bank file → result file → re-issue → paid snapshot."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from subsidy.audit.models import AuditEvent
from subsidy.extensions import db
from subsidy.filings.models import FilingState
from subsidy.households.models import Household
from subsidy.notify.models import Message
from subsidy.payments import ids
from subsidy.payments.models import BatchStatus, Payment, PaymentStatus
from subsidy.public.service import my_entries
from tests.filings_support import make_world, walk_to
from tests.payments_support import (
    PAID_AT,
    approved_world,
    bank_file,
    messages,
    payments_of,
    post_results,
)


def state_of_payments():
    return [(p.id, p.status, p.bank_ref, p.failure_reason)
            for p in db.session.scalars(sa.select(Payment).order_by(Payment.id))]


def test_disbursement_ids_check_themselves():
    did = ids.make_id("640425", 12, 34)
    assert len(did) == 22 and did.startswith("6404251") and ids.is_valid(did)
    for i in range(6, 22):  # any single changed digit is caught
        wrong = did[:i] + str((int(did[i]) + 1) % 10) + did[i + 1:]
        assert not ids.is_valid(wrong), wrong
    swapped = did[:15] + did[16] + did[15] + did[17:]
    assert swapped == did or not ids.is_valid(swapped)


def test_sql_ids_equal_python_ids(app, county, db):
    row = db.session.execute(sa.select(ids.sql_id("640425", 7, sa.literal(3)))).scalar()
    assert row == ids.make_id("640425", 7, 3)


def test_from_approval_to_payment(api_as, county):
    """What it must show: export; a bank file with two failures and one wrong amount; the
    reconciliation report; re-issue of the two failures; a second result file; the paid
    snapshot equal to the county snapshot; one payment SMS per household."""
    w = approved_world(5)
    api = api_as("county_reviewer")
    fid = w.filing.id

    with time_machine.travel(PAID_AT, tick=False):
        r = api.post("/api/v1/payments/batches", json={"project_id": w.project.id, "filing_ids": [fid]})
        assert r.status_code == 201, r.json
        batch = r.json
        assert batch["payment_count"] == 5 and batch["total_amount"] == "6562.50" and batch["status"] == "open"
        # A payment cannot be in two open batches.
        r = api.post("/api/v1/payments/batches", json={"project_id": w.project.id})
        assert r.status_code == 409

        pays = payments_of(batch["id"])
        assert [p.seq for p in pays] == [1, 2, 3, 4, 5]
        assert all(ids.is_valid(p.disbursement_id) for p in pays)
        accounts = {h.id: h.payout_account for h in w.households}
        assert all(p.payout_account == accounts[p.household_id] for p in pays)

        # The bank's file, as CSV (API) and .xlsx (page): headers, one row per payment, a 合计.
        r = api.get(f"/api/v1/payments/batches/{batch['id']}/file?format=csv")
        assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
        # Long digit strings carry a leading tab so Excel keeps them as text (subsidy.common.csvfile).
        lines = [[cell.lstrip("\t") for cell in line]
                 for line in csv.reader(io.StringIO(r.data.decode("utf-8-sig")))]
        assert lines[0] == ["交易流水号", "户名", "身份证号", "账号", "金额", "摘要"]
        assert [x[0] for x in lines[1:6]] == [p.disbursement_id for p in pays]
        assert lines[1][3] == pays[0].payout_account and lines[1][4] == "1312.50"
        assert lines[1][5] == f"2017{w.project.name}"[:20]
        assert lines[6][0] == "合计" and lines[6][4] == "6562.50"
        r = api.get(f"/api/v1/payments/batches/{batch['id']}/file")
        sheet = load_workbook(io.BytesIO(r.data)).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == ("交易流水号", "户名", "身份证号", "账号", "金额", "摘要") and len(rows) == 7
        assert rows[1][2] == pays[0].id_number
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "payment.batch_export")) == 2

        # First result file: two failures, one wrong amount, two paid; its 合计 adds up.
        first = [(pays[0].disbursement_id, "成功", "", "B0001", "1312.50"),
                 (pays[1].disbursement_id, "失败", "账户已冻结", "", "1312.50"),
                 (pays[2].disbursement_id, "成功", "", "B0003", "1321.50"),  # wrong amount
                 (pays[3].disbursement_id, "失败", "账户状态异常", "", "1312.50"),
                 (pays[4].disbursement_id, "成功", "", "B0005", "1312.50")]
        first_file = bank_file(first, True)[0].getvalue()
        r = post_results(api, batch["id"], first, data=first_file)
        assert r.status_code == 200, r.json
        report = r.json
        assert (report["paid"], report["failed"], report["unchanged"]) == (2, 2, 0)
        assert report["paid_amount"] == "2625.00" and report["failed_amount"] == "2625.00"
        assert [(p["row"], p["kind"]) for p in report["problems"]] == [(4, "amount_mismatch")]
        assert "1321.50" in report["problems"][0]["message"]
        assert report["sms_households"] == 2 and report["sms_clerks"] == 2 and report["filings_paid"] == []
        db.session.expire_all()
        assert [p.status for p in payments_of(batch["id"])] == [
            PaymentStatus.paid, PaymentStatus.failed, PaymentStatus.pending, PaymentStatus.failed, PaymentStatus.paid]
        assert payments_of(batch["id"])[1].failure_reason == "账户已冻结"
        # Failures go to the village clerk, never to the farmer.
        clerk_sms = messages("payment_failed_clerk")
        assert [m.to_phone for m in clerk_sms] == ["13900000001", "13900000001"] and "账户已冻结" in clerk_sms[0].body
        assert all(m.household_id is None for m in clerk_sms)

        # The same file again changes nothing.
        before = state_of_payments()
        sms_before = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
        r = post_results(api, batch["id"], first, data=first_file)
        assert r.status_code == 200
        assert (r.json["paid"], r.json["failed"], r.json["unchanged"]) == (0, 0, 4) and r.json["repeat_of"]
        db.session.expire_all()
        assert state_of_payments() == before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == sms_before

        # Only failures can be re-issued: both of them, not the pending one, not the paid ones.
        r = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id,
                                                               "payment_ids": [pays[0].id]})
        assert r.status_code == 409
        # Both accounts are still the ones the bank refused: no re-issue without a choice.
        r = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id})
        assert r.status_code == 409 and r.json["error"]["fields"]["uncorrected"] == f"{pays[1].id},{pays[3].id}"
        assert "未更正" in r.json["error"]["message"]
        r = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id, "uncorrected": "exclude"})
        assert r.status_code == 409 and "都未更正" in r.json["error"]["message"]
        r = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id, "uncorrected": "include"})
        assert r.status_code == 201, r.json
        again = r.json
        assert again["reissue"] and again["payment_count"] == 2 and again["skipped"] == {"same_account": 2}
        redo = payments_of(again["id"])
        assert sorted(p.reissue_of_id for p in redo) == sorted([pays[1].id, pays[3].id])
        assert api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id}).status_code == 409

        # Second result files: the re-issued ones paid, and the bank's corrected row for the first batch.
        r = post_results(api, again["id"], [(p.disbursement_id, "成功", "", f"R{p.id}", "1312.50") for p in redo],
                         kind="csv")
        assert r.status_code == 200 and r.json["paid"] == 2 and r.json["filings_paid"] == []
        r = post_results(api, batch["id"], [(pays[2].disbursement_id, "成功", "", "B0003", "1312.50")], total=None)
        assert r.status_code == 200 and r.json["paid"] == 1
        assert r.json["filings_paid"] == [fid] and r.json["mismatches"] == []

    # The filing is paid, through the workflow, and the paid list equals the approved one.
    body = api.get(f"/api/v1/filings/{fid}").json
    assert body["state"] == "paid" and body["mismatches"] == []
    snaps = {s["stage"]: s for s in body["snapshots"]}
    assert snaps["paid"]["digest"] == snaps["county"]["digest"] and snaps["paid"]["total_amount"] == "6562.50"
    assert body["reviews"][-1]["action"] == "pay" and body["reviews"][-1]["from_state"] == "county_approved"
    assert all(b["status"] == "settled" for b in api.get("/api/v1/payments/batches").json["items"])
    # Exactly one payment SMS per household, with project, amount, account tail and date.
    paid_sms = messages("payment_paid")
    assert sorted(m.household_id for m in paid_sms) == sorted(h.id for h in w.households)
    first_sms = next(m for m in paid_sms if m.household_id == pays[0].household_id)
    assert w.project.name in first_sms.body and "1312.50" in first_sms.body
    assert pays[0].payout_account[-4:] in first_sms.body and "6月21日" in first_sms.body
    # Nothing left to pay for the project.
    assert api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).status_code == 409


def test_files_whose_totals_do_not_add_up_are_refused_whole(api_as, county):
    w = approved_world(3)
    api = api_as("county_reviewer")
    batch = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    pays = payments_of(batch["id"])
    rows = [(p.disbursement_id, "成功", "", f"B{p.seq}", "1312.50") for p in pays]

    # A 合计 row that is not the sum of the rows.
    r = post_results(api, batch["id"], rows, total="3937.51")
    assert r.status_code == 400 and r.json["refused"] and "合计行金额" in r.json["refusal"]
    assert r.json["error"]["code"] == "totals_do_not_add_up"
    # No 合计 row, and one amount that is not ours: refused against the batch.
    bad = rows[:2] + [(pays[2].disbursement_id, "成功", "", "B3", "1000.00")]
    r = post_results(api, batch["id"], bad, total=None)
    assert r.status_code == 400 and "按本批次核对" in r.json["refusal"]
    db.session.expire_all()
    assert all(p.status == PaymentStatus.pending for p in payments_of(batch["id"]))
    assert messages("payment_paid") == []


def test_unknown_duplicate_and_other_batch_rows_are_reported_not_applied(api_as, county):
    w = approved_world(2)
    other = make_world(1, village="640425100202", rate=Decimal("105.00"))
    walk_to(other, FilingState.county_approved)
    api = api_as("county_reviewer")
    b1 = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    b2 = api.post("/api/v1/payments/batches", json={"project_id": other.project.id}).json
    p1, p2 = payments_of(b1["id"]), payments_of(b2["id"])
    unknown = ids.make_id("640425", 9999, 1)
    typo = p1[0].disbursement_id[:-1] + str((int(p1[0].disbursement_id[-1]) + 1) % 10)
    rows = [(p1[0].disbursement_id, "成功", "", "X1", "1312.50"),
            (p1[1].disbursement_id, "成功", "", "X2", "1312.50"),
            (p1[1].disbursement_id, "失败", "户名不符", "", "1312.50"),
            (unknown, "成功", "", "X3", "1312.50"),
            (typo, "成功", "", "X4", "1312.50"),
            (p2[0].disbursement_id, "成功", "", "X5", "1312.50"),
            (p1[0].disbursement_id + "", "未知", "", "", "1312.50")]
    r = post_results(api, b1["id"], rows)
    assert r.status_code == 200, r.json
    kinds = [(p["row"], p["kind"]) for p in r.json["problems"]]
    assert kinds == [(2, "duplicate"), (3, "duplicate"), (4, "duplicate"), (5, "unknown"), (6, "malformed"),
                     (7, "other_batch"), (8, "invalid")]
    assert r.json["paid"] == 0 and r.json["problem_counts"]["duplicate"] == 3
    db.session.expire_all()
    assert all(p.status == PaymentStatus.pending for p in payments_of(b1["id"]) + payments_of(b2["id"]))


def test_an_entry_is_never_paid_twice_even_behind_the_services_back(api_as, county, db):
    w = approved_world(1)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])[0]
    post_results(api, b["id"], [(p.disbursement_id, "成功", "", "B1", "1312.50")])
    row = {c: getattr(p, c) for c in ("entry_id", "filing_id", "project_id", "household_id", "region_code",
                                      "head_name", "id_number", "payout_account", "amount")}
    twice = Payment(batch_id=b["id"], seq=2, disbursement_id=ids.make_id("640425", b["id"], 2),
                    status=PaymentStatus.pending, **row)
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.add(twice)  # flushed as the savepoint is released
    # A paid payment contradicted by a later file is reported, never flipped.
    r = post_results(api, b["id"], [(p.disbursement_id, "失败", "账号错误", "", "1312.50")])
    assert [x["kind"] for x in r.json["problems"]] == ["conflict"]
    db.session.expire_all()
    assert db.session.get(Payment, p.id).status == PaymentStatus.paid


def test_account_fixed_by_the_village_shows_as_a_difference(api_as, county):
    """A failure re-issued to a corrected account: paid, but the paid list differs from the
    approved one in 一卡通账号 — said on the filing, in the report and on the dashboard."""
    w = approved_world(2)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])
    post_results(api, b["id"], [(p[0].disbursement_id, "成功", "", "B1", "1312.50"),
                                (p[1].disbursement_id, "失败", "账号不存在", "", "1312.50")])
    household = db.session.get(Household, p[1].household_id)
    household.payout_account = "6231999988887777666"
    db.session.commit()
    # The farmer's "my subsidies" says what became of the money at each step (payments.lookup).
    mine = my_entries(p[1].household_id)[0]
    assert mine.stage == "发放失败" and "账号不存在" in mine.advice and mine.payment_id is None
    paid = my_entries(p[0].household_id)[0]
    assert (paid.stage, paid.payment_id, paid.account_tail) == ("已发放", p[0].id, p[0].payout_account[-4:])
    again = api.post("/api/v1/payments/batches/reissue", json={"project_id": w.project.id}).json
    assert again["skipped"] == {"same_account": 0}
    redo = payments_of(again["id"])[0]
    assert redo.payout_account == "6231999988887777666" and redo.reissue_of_id == p[1].id
    # re-issued, waiting for the bank: the old failure is no longer what the farmer reads
    mine = my_entries(p[1].household_id)[0]
    assert mine.stage == "县级已审定" and mine.payment_id is None
    r = post_results(api, again["id"], [(redo.disbursement_id, "成功", "", "R1", "1312.50")])
    mine = my_entries(p[1].household_id)[0]
    assert (mine.stage, mine.payment_id, mine.account_tail) == ("已发放", redo.id, "7666")
    assert r.json["filings_paid"] == [w.filing.id]
    assert "一卡通账号" in r.json["mismatches"][0]["message"]
    body = api.get(f"/api/v1/filings/{w.filing.id}").json
    assert body["state"] == "paid"
    assert [(m["stage"], m["compared_with"]) for m in body["mismatches"]] == [("paid", "county")]
    assert body["mismatches"][0]["changed"][0]["fields"] == ["payout_account"]
    from subsidy.stats import queries

    assert queries.filings("640425", 2017, 6)["640425"]["mismatches"] == 1


def test_withdrawn_batch_frees_its_entries(api_as, county):
    w = approved_world(2)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    assert api.post(f"/api/v1/payments/batches/{b['id']}/cancel", json={"reason": ""}).status_code == 400
    r = api.post(f"/api/v1/payments/batches/{b['id']}/cancel", json={"reason": "账号批量有误"})
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert my_entries(w.households[0].id)[0].stage == "县级已审定"  # a cancelled payment says nothing
    assert api.get(f"/api/v1/payments/batches/{b['id']}/file").status_code == 409
    b2 = api.post("/api/v1/payments/batches", json={"project_id": w.project.id})
    assert b2.status_code == 201 and b2.json["payment_count"] == 2


def test_only_the_county_reviewer_makes_batches(api_as, county):
    w = approved_world(1)
    for role, region in (("village_clerk", "640425100201"), ("township_reviewer", "640425100"),
                         ("county_admin", None), ("supervisor", None)):
        r = api_as(role, region).post("/api/v1/payments/batches", json={"project_id": w.project.id})
        assert r.status_code == 403, role
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_entries_without_account_are_left_out_and_counted(api_as, county):
    w = approved_world(3)
    h = w.households[0]
    h.payout_account = None
    db.session.commit()
    r = api_as("county_reviewer").post("/api/v1/payments/batches", json={"project_id": w.project.id})
    assert r.status_code == 201 and r.json["payment_count"] == 2 and r.json["skipped"]["no_account"] == 1


def test_pages_make_a_batch_and_import_a_result(login_as, county):
    w = approved_world(2)
    web = login_as("county_reviewer")
    page = web.get(f"/payments/projects/{w.project.id}/batch")
    assert page.status_code == 200 and "生成发放批次" in page.text
    r = web.post(f"/payments/projects/{w.project.id}/batch", data={"filing_ids": [str(w.filing.id)], "scope": "chosen"})
    assert r.status_code == 302
    batch_url = r.headers["Location"]
    page = web.get(batch_url)
    assert page.status_code == 200 and "导入并对账" in page.text
    b = db.session.scalars(sa.select(Payment.batch_id)).first()
    r = web.post(f"/payments/batches/{b}/export", data={"format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    pays = payments_of(b)
    stream, name = bank_file([(pays[0].disbursement_id, "成功", "", "B1", "1312.50"),
                              (pays[1].disbursement_id, "失败", "账号不存在", "", "1312.50")], True)
    r = web.post(f"/payments/batches/{b}/results", data={"file": (stream, name)}, content_type="multipart/form-data")
    assert r.status_code == 200 and "对账报告" in r.text and "已通知村级经办员" in r.text
    from subsidy.payments.models import ResultImport

    imp = db.session.scalars(sa.select(ResultImport.id)).one()
    assert "账号不存在" in web.get(f"/payments/batches/{b}/imports/{imp}").text
    for url in ("/payments/", "/payments/failed", "/payments/receipts"):
        assert web.get(url).status_code == 200, url
    assert "资金发放" in web.get("/payments/").text and "监管驾驶舱" in web.get("/payments/").text
    clerk = login_as("village_clerk", "640425100201")
    assert clerk.get("/payments/").status_code == 200
    page = clerk.get("/payments/failed")
    assert page.status_code == 200 and "账号不存在" in page.text
    assert clerk.post(f"/payments/batches/{b}/export", data={"format": "csv"}).status_code == 403
    other_clerk = login_as("village_clerk", "640425101201")
    assert "账号不存在" not in other_clerk.get("/payments/failed").text
    assert clerk.get(f"/payments/batches/{b}").status_code == 200
    assert other_clerk.get(f"/payments/batches/{b}").status_code == 404
    # The village's name, not its code, on the failures page.
    from subsidy.regions.models import Region

    failed_page = web.get("/payments/failed").text
    assert db.session.get(Region, "640425100201").name in failed_page and ">640425100201<" not in failed_page
    # The account was not corrected: the re-issue lists it and asks, nothing is made yet.
    r = web.post("/payments/reissue", data={"project_id": str(w.project.id)})
    assert r.status_code == 200 and "未更正" in r.text and pays[1].head_name in r.text
    assert 'value="include"' in r.text and 'value="exclude"' in r.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 2
    r = web.post("/payments/reissue", data={"project_id": str(w.project.id), "uncorrected": "exclude"})
    assert r.status_code == 302 and db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 2
    r = web.post("/payments/reissue", data={"project_id": str(w.project.id), "uncorrected": "include"})
    assert r.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 3
    from subsidy.payments.models import PaymentBatch

    assert db.session.get(PaymentBatch, b).status == BatchStatus.settled


def test_reissue_leaves_out_only_the_uncorrected_when_asked(api_as, login_as, county):
    """Two failures, one account corrected by the village: "leave them out" re-issues the corrected one only."""
    w = approved_world(2)
    api = api_as("county_reviewer")
    b = api.post("/api/v1/payments/batches", json={"project_id": w.project.id}).json
    p = payments_of(b["id"])
    post_results(api, b["id"], [(p[0].disbursement_id, "失败", "户名不符", "", "1312.50"),
                                (p[1].disbursement_id, "失败", "账号不存在", "", "1312.50")])
    db.session.get(Household, p[1].household_id).payout_account = "6231999988887777666"
    db.session.commit()
    web = login_as("county_reviewer")
    page = web.post("/payments/reissue", data={"project_id": str(w.project.id)})
    assert page.status_code == 200 and p[0].head_name in page.text and "户名不符" in page.text
    assert "账号不存在" not in page.text  # the corrected one is not asked about
    r = web.post("/payments/reissue", data={"project_id": str(w.project.id), "uncorrected": "exclude"})
    assert r.status_code == 302
    redo = db.session.scalars(sa.select(Payment).where(Payment.reissue_of_id.is_not(None))).all()
    assert [x.reissue_of_id for x in redo] == [p[1].id] and redo[0].payout_account == "6231999988887777666"
    # What was left out still waits, and is asked about again.
    page = web.post("/payments/reissue", data={"project_id": str(w.project.id)})
    assert page.status_code == 200 and p[0].head_name in page.text
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "payment.batch_reissue")).one()
    assert "exclude" in str(event.detail)
    # A bad choice is refused with a message.
    r = web.post("/payments/reissue", data={"project_id": str(w.project.id), "uncorrected": "maybe"})
    assert r.status_code == 302


def test_roles_that_cannot_make_batches_are_told_who_does(login_as, county):
    w = approved_world(1)
    admin = login_as("county_admin")
    page = admin.get("/payments/")
    assert page.status_code == 200 and "县级审核员" in page.text and 'id="payments-hint"' in page.text
    assert "生成发放批次" not in page.text
    for who, code in (("county_admin", None), ("village_clerk", "640425100201")):
        client = login_as(who, code) if code else admin
        r = client.get(f"/payments/projects/{w.project.id}/batch")
        assert r.status_code == 403 and "县级审核员" in r.text, who
    reviewer = login_as("county_reviewer").get("/payments/")
    assert 'id="payments-hint"' not in reviewer.text and "生成发放批次" in reviewer.text

"""API: payment batches, the bank's files, re-issue. Same services as the pages."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import PAGING, Q_ID, Id, MoneyStr, page_args, q_enum, q_text, route
from subsidy.common.access import current_actor
from subsidy.common.params import id_arg
from subsidy.common.xlsx import read_upload
from subsidy.payments import files, results, service
from subsidy.payments.models import BatchStatus, PaymentStatus


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: Id
    filing_ids: list[Id] | None = Field(default=None, max_length=10_000)
    note: str = Field(default="", max_length=200)


class ReissueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: Id
    payment_ids: list[Id] | None = Field(default=None, max_length=100_000)
    note: str = Field(default="", max_length=200)
    # Failures whose account was not corrected since: re-issue them anyway, or leave them out.
    # Without a choice while there are some, the re-issue is refused (409) and names them.
    uncorrected: Literal["include", "exclude"] | None = None


class BatchOut(BaseModel):
    id: int
    code: str
    project_id: int
    status: BatchStatus
    reissue: bool
    payment_count: int
    total_amount: MoneyStr
    created_at: datetime
    exported_at: datetime | None
    settled_at: datetime | None


class PaymentOut(BaseModel):
    id: int
    seq: int
    disbursement_id: str
    entry_id: int
    filing_id: int
    household_id: int
    region_code: str
    head_name: str
    payout_account: str
    amount: MoneyStr
    status: PaymentStatus
    bank_ref: str | None
    failure_reason: str | None
    reissue_of_id: int | None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)


def _batch(batch, result=None) -> dict:
    out = BatchOut.model_validate(batch, from_attributes=True).model_dump(mode="json")
    out["counts"] = {k: {"count": v["count"], "amount": str(v["amount"])}
                     for k, v in service.batch_counts(batch.id).items()}
    if result is not None:
        out["skipped"] = result.skipped
    return out


@route("/payments/batches", "POST", summary="Create a payment batch from county-approved filings (or all of a project)",
       body=BatchIn, status=201, tag="payments")
def create_batch(body: BatchIn):
    result = service.create_batch(current_actor(), body.project_id, body.filing_ids, body.note)
    return _batch(result.batch, result)


@route("/payments/batches/reissue", "POST", summary="Re-issue failed payments of a project in a new batch",
       body=ReissueIn, status=201, tag="payments")
def reissue(body: ReissueIn):
    result = service.reissue_failed(current_actor(), body.project_id, body.payment_ids, body.note,
                                   body.uncorrected)
    return _batch(result.batch, result)


@route("/payments/batches", "GET", summary="Payment batches of the county", response=BatchOut, list_response=True,
       tag="payments", query={"project_id": Q_ID, **PAGING})
def list_batches():
    number, per_page = page_args()
    page = service.list_batches(current_actor(), project_id=id_arg("project_id"), page=number, per_page=per_page)
    return {"items": [BatchOut.model_validate(b, from_attributes=True).model_dump(mode="json") for b in page.items],
            "page": page.page, "per_page": page.per_page, "total": page.total}


@route("/payments/batches/<int:batch_id>", "GET", summary="A batch with its counts by status", tag="payments")
def get_batch(batch_id: int):
    return _batch(service.get_batch(current_actor(), batch_id))


@route("/payments/batches/<int:batch_id>/payments", "GET", summary="The payments of a batch", response=PaymentOut,
       list_response=True, tag="payments", query={"status": q_enum(PaymentStatus), "q": q_text("name or account"),
                                                  **PAGING})
def list_payments(batch_id: int):
    number, per_page = page_args()
    page = service.list_payments(current_actor(), batch_id, status=request.args.get("status") or None,
                                 q=request.args.get("q"), page=number, per_page=per_page)
    return {"items": [PaymentOut.model_validate(p, from_attributes=True).model_dump(mode="json") for p in page.items],
            "page": page.page, "per_page": page.per_page, "total": page.total}


@route("/payments/batches/<int:batch_id>/file", "GET", summary="The bank's batch file (.xlsx or CSV), audited",
       tag="payments", query={"format": q_enum(["xlsx", "csv"], "xlsx (default) or csv")})
def export_batch(batch_id: int):
    out = files.export_batch(current_actor(), batch_id, request.args.get("format") or "xlsx")
    return send_file(out.file, mimetype=out.mimetype, as_attachment=True, download_name=out.filename, max_age=0)


@route("/payments/batches/<int:batch_id>/results", "POST",
       summary="Import the bank's result file (回盘); a file whose totals do not add up is refused whole (400)",
       multipart={"file": ".xlsx or .csv; headers 交易流水号, 状态 (成功/失败), 失败原因, 银行流水号, 金额; "
                          "optional 合计 row"},
       tag="payments")
def import_results(batch_id: int):
    upload = read_upload("file", required=False)
    report = results.import_results(current_actor(), batch_id, upload and upload.stream, upload and upload.filename)
    body = report.as_dict()
    if report.refused:
        body["error"] = {"code": "totals_do_not_add_up", "message": report.refusal, "fields": {"file": report.refusal}}
        return jsonify(body), 400
    return body


@route("/payments/batches/<int:batch_id>/cancel", "POST", summary="Withdraw a batch no result has arrived for",
       body=CancelIn, tag="payments")
def cancel_batch(batch_id: int, body: CancelIn):
    return _batch(service.cancel_batch(current_actor(), batch_id, body.reason))

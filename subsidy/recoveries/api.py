"""API: recoveries (追回), repayments and write-offs (核销) (docs/api.md "Supervision with
consequences"). Same service functions as the pages."""
from __future__ import annotations

from datetime import date, datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import PAGING, Q_REGION, Id, MoneyIn, MoneyStr, page_args, page_json, q_enum, route
from subsidy.common.access import current_actor
from subsidy.recoveries import service
from subsidy.recoveries.models import RecoveryState, RepaymentMethod, WriteOffKind, WriteOffState


class RecoveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: Id
    amount: MoneyIn
    reason: str = Field(max_length=2000)


class RecoveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    household_id: int
    entry_id: int | None
    filing_id: int | None
    region_code: str
    amount_due: MoneyStr
    amount_recovered: MoneyStr
    state: RecoveryState
    reason: str
    source: str
    created_at: datetime


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: MoneyIn
    paid_on: date
    receipt_no: str = Field(max_length=200)
    method: RepaymentMethod


class RepaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    recovery_id: int
    amount: MoneyStr
    paid_on: date
    receipt_no: str
    method: RepaymentMethod
    recorded_at: datetime


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class WriteOffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: WriteOffKind
    state: WriteOffState
    payment_id: int | None
    recovery_id: int | None
    entry_id: int | None
    amount: MoneyStr
    quantity: MoneyStr | None = None  # goods written off (kind material)
    reason: str
    proposed_by: int
    proposed_at: datetime
    approved_by: int | None
    approved_at: datetime | None


class WriteOffRef(BaseModel):
    write_off: WriteOffOut


@route("/recoveries", "GET", summary="Recoveries (追回) in the user's region", response=RecoveryOut,
       list_response=True, tag="recoveries", query={"region_code": Q_REGION, "state": q_enum(RecoveryState), **PAGING})
def list_recoveries():
    page, per_page = page_args()
    return page_json(RecoveryOut, service.list_recoveries(current_actor(), region_code=request.args.get("region_code"),
                                                          state=request.args.get("state"), page=page,
                                                          per_page=per_page))


@route("/recoveries", "POST", summary="Record a recovery of a paid entry (county reviewer); SMS to the household",
       body=RecoveryIn, response=RecoveryOut, status=201, tag="recoveries")
def create_recovery(body: RecoveryIn):
    return service.create_recovery(current_actor(), body.entry_id, body.amount, body.reason)


@route("/recoveries/<int:recovery_id>/repayments", "POST", summary="Record a repayment (county reviewer)",
       body=RepaymentIn, response=RepaymentOut, status=201, tag="recoveries")
def add_repayment(recovery_id: int, body: RepaymentIn):
    return service.add_repayment(current_actor(), recovery_id, body.amount, body.paid_on, body.receipt_no,
                                 body.method.value)


@route("/payments/<int:payment_id>/write-off", "POST", summary="Propose writing off a payment that failed for good",
       body=ReasonIn, response=WriteOffRef, tag="recoveries")
def write_off_payment(payment_id: int, body: ReasonIn):
    w = service.propose_payment_write_off(current_actor(), payment_id, body.reason)
    return {"write_off": WriteOffOut.model_validate(w).model_dump(mode="json")}


@route("/recoveries/<int:recovery_id>/write-off", "POST", summary="Propose writing off a recovery's balance",
       body=ReasonIn, response=WriteOffRef, tag="recoveries")
def write_off_recovery(recovery_id: int, body: ReasonIn):
    w = service.propose_recovery_write_off(current_actor(), recovery_id, body.reason)
    return {"write_off": WriteOffOut.model_validate(w).model_dump(mode="json")}


@route("/write-offs/<int:write_off_id>/approve", "POST",
       summary="Approve a write-off (a county reviewer or supervisor other than who proposed it)",
       response=WriteOffOut, tag="recoveries")
def approve_write_off(write_off_id: int):
    return service.approve_write_off(current_actor(), write_off_id)


@route("/write-offs", "GET", summary="Write-offs (核销) in the user's region", response=WriteOffOut,
       list_response=True, tag="recoveries", query={"state": q_enum(WriteOffState), **PAGING})
def list_write_offs():
    page, per_page = page_args()
    return page_json(WriteOffOut, service.list_write_offs(current_actor(), state=request.args.get("state"), page=page,
                                                          per_page=per_page))

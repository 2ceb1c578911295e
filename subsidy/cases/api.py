"""API: cases (docs/api.md `/cases…`)."""
from __future__ import annotations

from datetime import datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import PAGING, Q_REGION, Q_YEAR, Id, RegionCode, enum_str, page_args, page_json, q_enum, route
from subsidy.cases import escalation, queries, service, stats
from subsidy.cases.models import CaseKind, CaseState, Channel, EventKind, Finding, Rating
from subsidy.common.access import current_actor
from subsidy.common.params import year_arg
from subsidy.errors import ValidationError


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: enum_str(CaseKind)
    region_code: RegionCode | None = None
    subject: str = Field(max_length=service.MAX_SUBJECT)
    body: str = Field(max_length=service.MAX_BODY)
    contact_phone: str = Field(max_length=20)
    contact_name: str | None = Field(default=None, max_length=40)
    household_id: Id | None = None
    entry_id: Id | None = None
    channel: enum_str(service.STAFF_CHANNELS) = "phone"


class CaseCreated(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ref_no: str
    kind: CaseKind
    state: CaseState
    due_at: datetime
    due_provisional: bool  # reckoned through a year no calendar covers yet (暂定)
    assigned_region_code: str
    region_code: str


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ref_no: str
    kind: CaseKind
    channel: Channel
    state: CaseState
    version: int
    region_code: str
    assigned_region_code: str
    escalated_to_code: str | None
    escalation_count: int
    household_id: int | None
    entry_id: int | None
    contact_name: str
    contact_phone: str | None
    subject: str
    body: str
    received_at: datetime
    due_days: int
    due_at: datetime
    due_provisional: bool
    replied_at: datetime | None
    closed_at: datetime | None
    reply_body: str | None
    finding: Finding | None
    completed_late: bool
    overdue_at: datetime | None
    rating: Rating | None
    rating_reason: str | None
    reopen_count: int
    reject_reason: str | None
    merged_into_id: int | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    kind: EventKind
    at: datetime
    actor: str = Field(validation_alias="actor_name")
    note: str
    from_state: str | None
    to_state: str | None
    from_region_code: str | None
    to_region_code: str | None


class CaseDetail(CaseOut):
    events: list[EventOut]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=service.MAX_BODY)
    # 核查结论, required for complaints and objections (docs/api.md)
    finding: str | None = Field(default=None, max_length=30)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode | None = None
    reason: str = Field(max_length=service.MAX_REASON)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=service.MAX_REASON)


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: enum_str(Rating)
    reason: str | None = Field(default=None, max_length=service.MAX_REASON)


@route("/cases", "POST", summary="Record a case taken by phone or at the office (staff)", body=CaseIn,
       response=CaseCreated, status=201, tag="cases")
def create_case(body: CaseIn):
    return service.record_case(current_actor(), **body.model_dump())


@route("/cases", "GET", summary="Cases in scope (complaints about the user's own region never appear)",
       response=CaseOut, list_response=True, tag="cases",
       query={"scope": q_enum(["mine", "all"], "mine (the unit's queue) or all (default)"),
              "kind": q_enum(CaseKind), "state": q_enum(["open"] + [s.value for s in CaseState], "open or a state"),
              "region_code": Q_REGION, "overdue": q_enum(["1", "0", "true", "false"], "1: overdue only"), **PAGING})
def list_cases():
    page, per_page = page_args()
    args = request.args
    if args.get("overdue") not in (None, "", "0", "1", "true", "false"):
        raise ValidationError("筛选条件不正确", fields={"overdue": "应为 1 或 0"})
    result = queries.list_cases(current_actor(), page=page, per_page=per_page, scope=args.get("scope") or "all",
                                kind=args.get("kind"), state=args.get("state"), region_code=args.get("region_code"),
                                overdue=args.get("overdue") in ("1", "true"))
    return page_json(CaseOut, result)


@route("/cases/<int:case_id>", "GET", summary="One case with its timeline", response=CaseDetail, tag="cases")
def get_case(case_id: int):
    return queries.get_case(current_actor(), case_id)


@route("/cases/<int:case_id>/accept", "POST", summary="Start handling (received → in progress)", body=AcceptIn,
       response=CaseOut, tag="cases")
def accept_case(case_id: int, body: AcceptIn):
    return service.accept_case(current_actor(), case_id, body.note or "")


@route("/cases/<int:case_id>/reply", "POST", summary="Reply (办结); SMS to the farmer with the reference number",
       body=ReplyIn, response=CaseOut, tag="cases")
def reply_case(case_id: int, body: ReplyIn):
    return service.reply_case(current_actor(), case_id, body.body, body.finding)


@route("/cases/<int:case_id>/transfer", "POST", summary="Transfer to another unit with a reason", body=ActionIn,
       response=CaseOut, tag="cases")
def transfer_case(case_id: int, body: ActionIn):
    return service.transfer_case(current_actor(), case_id, body.region_code, body.reason)


@route("/cases/<int:case_id>/reject", "POST", summary="Reject as invalid (spam, duplicate); excluded from every rate",
       body=ActionIn, response=CaseOut, tag="cases")
def reject_case(case_id: int, body: ActionIn):
    if body.region_code:
        raise ValidationError("不予受理不需要单位", fields={"region_code": "不认识的字段"})
    return service.reject_case(current_actor(), case_id, body.reason)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(max_length=20, description="the earlier case's id or reference number (ZX-2017-000123)")
    reason: str = Field(max_length=service.MAX_REASON)


@route("/cases/<int:case_id>/merge", "POST", summary="Merge a duplicate into the earlier case it repeats; in no rate",
       body=MergeIn, response=CaseOut, tag="cases")
def merge_case(case_id: int, body: MergeIn):
    return service.merge_case(current_actor(), case_id, body.into, body.reason)


@route("/cases/<int:case_id>/escalate", "POST", summary="督办 with a note (supervisor)", body=ActionIn,
       response=CaseOut, tag="cases")
def escalate_case(case_id: int, body: ActionIn):
    return escalation.escalate_case(current_actor(), case_id, body.reason, body.region_code)


@route("/cases/<int:case_id>/rating", "POST", summary="Record the farmer's rating taken on a return call (回访)",
       body=RateIn, response=CaseOut, tag="cases")
def rate_case(case_id: int, body: RateIn):
    return service.record_rating(current_actor(), case_id, body.rating, body.reason)


@route("/cases/stats", "GET", summary="Completion figures: summary per kind and a row per handling unit",
       tag="cases", query={"region_code": Q_REGION, "year": Q_YEAR})
def case_stats():
    data = stats.statistics_for(current_actor(), region_code=request.args.get("region_code"), year=year_arg())
    units = [{"code": r.code, "name": r.name, "rank": r.rank, "too_few": r.too_few, **r.figures}
             for r in data["tables"][0][1]]
    return {"region_code": data["region"].code, "year": data["year"], **data["summary"], "units": units}

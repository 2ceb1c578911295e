"""API: accountability decisions (docs/api.md POST /accountability, GET /accountability)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from flask import request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from subsidy.accountability import service
from subsidy.accountability.models import Measure
from subsidy.api.spec import PAGING, Q_REGION, Id, RegionCode, dump, enum_str, page_args, route
from subsidy.common.access import current_actor

# Read by the service, which says in Chinese what is wrong with them (a date that does not exist,
# one after today, a measure not in the list); documented here as what they are.
DecidedOn = Annotated[str, WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-03-01"]})]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode
    person_name: str = Field(max_length=service.PERSON_NAME_MAX)
    post: str = Field(max_length=service.POST_MAX)
    measure: enum_str(Measure)
    document_no: str = Field(max_length=service.DOCUMENT_NO_MAX)
    decided_on: DecidedOn
    case_id: Id | None = None
    filing_id: Id | None = None
    summary: str = Field(max_length=service.SUMMARY_MAX)
    publish: bool = False


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    region_code: str
    person_name: str
    post: str
    measure: Measure
    document_no: str
    decided_on: date
    case_id: int | None
    filing_id: int | None
    summary: str
    published_at: datetime | None
    created_at: datetime
    created_by: int


@route("/accountability", "POST", summary="Record an accountability decision (supervisor)", body=DecisionIn,
       response=DecisionOut, status=201, tag="accountability")
def record_decision(body: DecisionIn):
    return service.record_decision(current_actor(), **body.model_dump())


@route("/accountability", "GET", summary="Accountability decisions in the user's region", response=DecisionOut,
       list_response=True, tag="accountability", query={"region_code": Q_REGION, **PAGING})
def list_decisions():
    actor = current_actor()
    page, per_page = page_args()
    result = service.list_decisions(actor, region_code=request.args.get("region_code"), page=page,
                                    per_page=per_page)
    cases, filings = service.references(actor, result.items)
    items = []
    for decision in result.items:
        item = dump(DecisionOut, decision)
        # What the reader may not open is not named: a complaint about their own region included.
        item["case_id"] = decision.case_id if decision.case_id in cases else None
        item["filing_id"] = decision.filing_id if decision.filing_id in filings else None
        items.append(item)
    return {"items": items, "page": result.page, "per_page": result.per_page, "total": result.total}

"""API: benefit policies (docs/api.md POST /policies, POST /policies/{id}/publish)."""
from __future__ import annotations

from datetime import date, datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from subsidy.api.spec import (
    PAGING,
    RegionCode,
    page_args,
    page_json,
    pydantic_fields,
    q_enum,
    q_text,
    request_json,
    route,
)
from subsidy.common.access import current_actor
from subsidy.errors import ValidationError
from subsidy.policies import service
from subsidy.policies.models import PolicyCategory, PolicyStatus


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=service.TITLE_MAX)
    body: str = Field(max_length=service.BODY_MAX)
    interpretation: str = Field(default="", max_length=service.BODY_MAX)
    region_code: RegionCode
    category: PolicyCategory = PolicyCategory.other
    effective_from: date | None = None
    effective_to: date | None = None


class PublishIn(BaseModel):
    """Optional: `broadcast_body` also texts every household the policy applies to."""
    model_config = ConfigDict(extra="forbid")
    broadcast_body: str | None = Field(default=None, max_length=300)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=service.REASON_MAX)


class PolicyRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    status: PolicyStatus


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    status: PolicyStatus
    title: str
    body: str
    interpretation: str
    category: PolicyCategory
    region_code: str
    effective_from: date | None
    effective_to: date | None
    published_at: datetime | None
    published_by: int | None
    withdrawn_at: datetime | None
    withdrawn_reason: str | None


@route("/policies", "POST", summary="Write a policy as a draft (county admin; city admin: city-wide)",
       body=PolicyIn, response=PolicyOut,
       status=201, tag="policies")
def create_policy(body: PolicyIn):
    data = body.model_dump()
    data["category"] = body.category.value
    return service.create_policy(current_actor(), **data)


@route("/policies", "GET", summary="Policies the user reads: the county's, and the city's published for it",
       response=PolicyOut, list_response=True,
       tag="policies", query={"status": q_enum(PolicyStatus), "q": q_text("title contains"), **PAGING})
def list_policies():
    page, per_page = page_args()
    return page_json(PolicyOut, service.list_policies(current_actor(), status=request.args.get("status"),
                                                      q=request.args.get("q"), page=page, per_page=per_page))


@route("/policies/<int:policy_id>", "GET", summary="One policy", response=PolicyOut, tag="policies")
def get_policy(policy_id: int):
    return service.get_policy(current_actor(), policy_id)


def _optional_body(model: type[BaseModel]):
    """The publish body is optional: no body (or {}) publishes without an SMS."""
    data = request_json() if request.get_data(cache=True) else {}
    if data is None or not isinstance(data, dict):
        raise ValidationError("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise ValidationError("输入有误，请检查各字段", fields=pydantic_fields(exc)) from exc


@route("/policies/<int:policy_id>/publish", "POST", summary="Publish a draft (optional SMS broadcast)",
       response=PolicyRef, tag="policies")
def publish_policy(policy_id: int):
    body = _optional_body(PublishIn)
    policy, sent = service.publish_policy(current_actor(), policy_id, broadcast_body=body.broadcast_body)
    out = {"id": policy.id, "status": policy.status.value}
    if sent:
        out["broadcast"] = {"messages": sent["messages"], "segments_each": sent["segments_each"]}
    return out


@route("/policies/<int:policy_id>/withdraw", "POST", summary="Withdraw a published policy with a reason",
       body=WithdrawIn, response=PolicyRef, tag="policies")
def withdraw_policy(policy_id: int, body: WithdrawIn):
    return service.withdraw_policy(current_actor(), policy_id, body.reason)

"""API: SMS (docs/api.md /sms/broadcasts, /sms/messages, /sms/status)."""
from __future__ import annotations

from datetime import datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.errors import error_response
from subsidy.api.spec import PAGING, Q_ID, Q_REGION, RegionCode, page_args, page_json, q_enum, q_text, route
from subsidy.common.access import current_actor
from subsidy.common.params import id_arg
from subsidy.notify import broadcast as broadcasts
from subsidy.notify import service, webhooks
from subsidy.notify.models import MessageStatus


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode
    body: str = Field(min_length=1, max_length=broadcasts.MAX_BODY)


class BroadcastOut(BaseModel):
    id: int
    region_code: str
    messages: int
    segments_each: int
    text: str


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    to: str | None = Field(validation_alias="to_phone")
    body: str
    status: MessageStatus
    error_code: str | None
    error_message: str | None
    attempts: int
    household_id: int | None
    template: str
    region_code: str
    segments: int
    provider_calls: int
    created_at: datetime
    sent_at: datetime | None


@route("/sms/broadcasts", "POST", summary="Broadcast a notice to every household of a region (county admin)",
       body=BroadcastIn, response=BroadcastOut, status=201, tag="sms")
def create_broadcast(body: BroadcastIn):
    b = broadcasts.create_broadcast(current_actor(), body.region_code, body.body)
    return {"id": b.id, "region_code": b.region_code, "messages": b.messages, "segments_each": b.segments_each,
            "text": b.text}


@route("/sms/messages", "GET", summary="Outbox messages (scoped)", response=MessageOut, list_response=True, tag="sms",
       query={"region_code": Q_REGION, "status": q_enum(MessageStatus), "template": q_text("template name", 40),
              "household_id": Q_ID, **PAGING})
def list_messages():
    page, per_page = page_args()
    args = request.args
    result = service.list_messages(current_actor(), region_code=args.get("region_code") or None,
                                   status=args.get("status") or None, template=args.get("template") or None,
                                   household_id=id_arg("household_id"), page=page, per_page=per_page)
    return page_json(MessageOut, result)


@route("/sms/status", "POST", summary="Twilio delivery status callback (form post, X-Twilio-Signature checked)",
       status=204, public=True, tag="sms")
def status_callback():
    if not webhooks.request_is_from_twilio():
        return error_response(403, "forbidden", "Twilio 签名无效")
    webhooks.handle_status_callback()
    return None


"""API: material subsidies, the township's store and the households' pickups (docs/api.md
"Material subsidies"). Same service functions as the pages."""
from __future__ import annotations

from datetime import date, datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import Q_REGION, MoneyIn, MoneyStr, route
from subsidy.common.access import current_actor
from subsidy.materials import lists, service, write_offs
from subsidy.materials.models import DistributionState, Receiver
from subsidy.recoveries.api import WriteOffOut, WriteOffRef


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: str = Field(default="", max_length=12)
    quantity: MoneyIn
    received_on: date
    supplier: str = Field(max_length=200)
    document_no: str = Field(max_length=200)


class ReceiptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    project_id: int
    township_code: str
    quantity: MoneyStr
    received_on: date
    supplier: str
    document_no: str
    recorded_at: datetime


class StockOut(BaseModel):
    project_id: int
    region_code: str
    item: str | None
    item_unit: str | None
    received: MoneyStr
    distributed: MoneyStr
    on_hand: MoneyStr


class PickupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: MoneyIn
    received_on: date
    receiver: Receiver
    proxy_name: str | None = Field(default=None, max_length=200)
    proxy_relation: str | None = Field(default=None, max_length=200)


class PickupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    entry_id: int
    filing_id: int
    quantity: MoneyStr
    received_on: date
    receiver: Receiver
    proxy_name: str | None
    proxy_relation: str | None
    recorded_at: datetime


class DistributionLine(BaseModel):
    entry_id: int
    household_id: int
    quantity_due: MoneyStr
    quantity_received: MoneyStr
    state: DistributionState


class DistributionOut(BaseModel):
    filing_id: int
    item: str | None
    item_unit: str | None
    due: MoneyStr
    received: MoneyStr
    items: list[DistributionLine]


@route("/projects/<int:project_id>/stock", "POST",
       summary="Record goods received into the township's store (入库; township reviewer, own township)",
       body=ReceiptIn, response=ReceiptOut, status=201, tag="materials")
def record_receipt(project_id: int, body: ReceiptIn):
    return service.record_receipt(current_actor(), project_id, body.region_code, body.quantity, body.received_on,
                                  body.supplier, body.document_no)


@route("/projects/<int:project_id>/stock", "GET",
       summary="A material project's goods received, handed out and on hand in a township (or the user's region)",
       response=StockOut, tag="materials", query={"region_code": Q_REGION})
def get_stock(project_id: int):
    s = service.stock(current_actor(), project_id, request.args.get("region_code"))
    return StockOut.model_validate(s).model_dump(mode="json")


@route("/filings/<int:filing_id>/entries/<int:entry_id>/pickups", "POST",
       summary="Record a household's pickup of its goods (领取签收; the village's clerk)",
       body=PickupIn, response=PickupOut, status=201, tag="materials")
def record_pickup(filing_id: int, entry_id: int, body: PickupIn):
    return service.record_pickup(current_actor(), filing_id, entry_id, body.quantity, body.received_on,
                                 body.receiver.value, body.proxy_name, body.proxy_relation)


@route("/filings/<int:filing_id>/distribution", "GET",
       summary="A material filing's goods due and received, by household", response=DistributionOut, tag="materials")
def get_distribution(filing_id: int):
    d = service.distribution(current_actor(), filing_id)
    out = {"filing_id": d["filing"].id, "item": d["project"].item, "item_unit": d["project"].item_unit,
           "due": d["due"], "received": d["received"], "items": d["items"]}
    return DistributionOut.model_validate(out).model_dump(mode="json")


class ListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place: str = Field(max_length=200)
    starts_on: date
    ends_on: date


class ListOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    filing_id: int
    place: str
    starts_on: date
    ends_on: date
    revision: int


@route("/filings/<int:filing_id>/distribution/list", "PUT",
       summary="Set where and between which days the village's households collect (the village's clerk); "
               "after the county's approval the households still owed goods are told by SMS",
       body=ListIn, response=ListOut, tag="materials")
def set_list(filing_id: int, body: ListIn):
    return lists.set_list(current_actor(), filing_id, body.place, body.starts_on, body.ends_on)


class WriteOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


@route("/filings/<int:filing_id>/entries/<int:entry_id>/write-off", "POST",
       summary="Propose writing off the goods an entry has not collected (county reviewer); approved by "
               "another county reviewer or a supervisor through /write-offs/{id}/approve",
       body=WriteOffIn, response=WriteOffRef, tag="materials")
def write_off(filing_id: int, entry_id: int, body: WriteOffIn):
    w = write_offs.propose_material_write_off(current_actor(), filing_id, entry_id, body.reason)
    return {"write_off": WriteOffOut.model_validate(w).model_dump(mode="json")}

"""API: the household register (docs/api.md /households)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from flask import request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from subsidy.api.spec import PAGING, Q_REGION, MoneyStr, RegionCode, import_answer, page_args, page_json, q_text, route
from subsidy.common.access import current_actor
from subsidy.common.money import AREA_PATTERN
from subsidy.common.xlsx import read_upload, send_xlsx
from subsidy.households import exporter, importer, service


# The register's checks (`subsidy.households.validation`) parse these with their own messages;
# the bounds here are what the OpenAPI document states.
def _as_text(value):
    """A number sent as a JSON number is read as the text it was, for `check_land` to judge."""
    return str(value) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else value


Land = Annotated[str, BeforeValidator(_as_text),
                 WithJsonSchema({"type": "string", "pattern": AREA_PATTERN,
                                 "description": "亩, 0..100000, at most two decimals"})]
Members = Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 50})]
Name = Annotated[str, Field(max_length=40)]
IdNumber = Annotated[str, Field(max_length=40), WithJsonSchema({"type": "string", "pattern": "^[0-9]{17}[0-9X]$"})]
Phone = Annotated[str, Field(max_length=20), WithJsonSchema({"type": "string", "pattern": "^1[3-9][0-9]{9}$"})]
Account = Annotated[str, Field(max_length=40), WithJsonSchema({"type": "string", "pattern": "^[0-9]{10,30}$"})]


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode | None = None
    head_name: Name
    id_number: IdNumber
    phone: Phone | None = None
    payout_account: Account | None = None
    members: Members = 1
    land_area_mu: Land = "0"


class HouseholdPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode | None = None
    head_name: Name | None = None
    id_number: IdNumber | None = None
    phone: Phone | None = None
    payout_account: Account | None = None
    members: Members | None = None
    land_area_mu: Land | None = None


class HouseholdOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    region_code: str
    head_name: str
    id_number: str
    phone: str | None
    payout_account: str | None
    members: int
    land_area_mu: MoneyStr
    updated_at: datetime
    warnings: list[str] = []  # accepted, but worth a look (e.g. an ID code younger than its holder)


@route("/households", "POST", summary="Register a household (village clerk)", body=HouseholdIn,
       response=HouseholdOut, status=201, tag="households")
def create_household(body: HouseholdIn):
    return service.create_household(current_actor(), **body.model_dump())


@route("/households", "GET", summary="Search the register (scoped)", response=HouseholdOut, list_response=True,
       tag="households", query={"region_code": Q_REGION, "q": q_text("name, ID number or phone"), **PAGING})
def list_households():
    page, per_page = page_args()
    result = service.list_households(current_actor(), region_code=request.args.get("region_code"),
                                     q=request.args.get("q"), page=page, per_page=per_page)
    return page_json(HouseholdOut, result)


@route("/households/<int:household_id>", "GET", summary="One household", response=HouseholdOut, tag="households")
def get_household(household_id: int):
    return service.get_household(current_actor(), household_id)


@route("/households/<int:household_id>", "PATCH", summary="Change a household", body=HouseholdPatch,
       response=HouseholdOut, tag="households")
def update_household(household_id: int, body: HouseholdPatch):
    return service.update_household(current_actor(), household_id, **body.model_dump(exclude_unset=True))


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: RegionCode
    reason: str = Field(default="", max_length=200)


@route("/households/<int:household_id>/transfer", "POST",
       summary="迁户: move a household to another village (county admin within the county, city admin across "
               "its counties; its history moves with it)",
       body=TransferIn, response=HouseholdOut, tag="households")
def transfer_household(household_id: int, body: TransferIn):
    return service.transfer_household(current_actor(), household_id, body.region_code, body.reason)


class RowError(BaseModel):
    row: int
    field: str
    message: str


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rows: int
    errors: list[RowError]
    error_count: int
    warnings: list[RowError] = []  # rows accepted that are worth a second look
    warning_count: int = 0


@route("/households/import", "POST", summary="Import households from .xlsx (any bad row: nothing written, 400)",
       response=ImportOut, multipart={"file": ".xlsx; first row: 户主姓名, 身份证号, 手机号码, 一卡通账号, 家庭人口, "
                                              "耕地面积(亩) [, 村代码 above village level]"}, tag="households")
def import_households():
    upload = read_upload("file", required=False)
    return import_answer(importer.import_households(current_actor(), upload and upload.stream,
                                                    upload and upload.filename))


@route("/households/import/template", "GET", summary="The blank import workbook (.xlsx)", tag="households")
def import_template():
    book = exporter.import_template(current_actor())
    return send_xlsx(book.file, book.filename)


@route("/households/export", "GET", summary="Export the register in scope as .xlsx (audited)", tag="households",
       query={"region_code": Q_REGION, "q": q_text("name, ID number or phone")})
def export_households():
    book = exporter.export_households(current_actor(), region_code=request.args.get("region_code") or None,
                                      q=request.args.get("q"))
    return send_xlsx(book.file, book.filename)

"""API: the household register (API.md /households)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import request
from pydantic import BaseModel, ConfigDict

from subsidy.api.spec import MoneyStr, import_answer, page_args, page_json, route
from subsidy.common.access import current_actor
from subsidy.common.xlsx import read_upload, send_xlsx
from subsidy.households import exporter, importer, service


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: str | None = None
    head_name: str
    id_number: str
    phone: str | None = None
    payout_account: str | None = None
    members: int = 1
    land_area_mu: Decimal | str = Decimal("0")


class HouseholdPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: str | None = None
    head_name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    payout_account: str | None = None
    members: int | None = None
    land_area_mu: Decimal | str | None = None


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
       tag="households", query={"region_code": "narrow to a region", "q": "name, ID number or phone",
                                "page": "", "per_page": "max 200"})
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
    region_code: str
    reason: str = ""


@route("/households/<int:household_id>/transfer", "POST",
       summary="迁户: move a household to another village (county admin; its history moves with it)",
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
       query={"region_code": "narrow to a region", "q": "name, ID number or phone"})
def export_households():
    book = exporter.export_households(current_actor(), region_code=request.args.get("region_code") or None,
                                      q=request.args.get("q"))
    return send_xlsx(book.file, book.filename)

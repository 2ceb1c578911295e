"""API: the city's subsidy catalogue (docs/api.md "Endpoints", docs/design.md "Subsidy catalogue")."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import PAGING, page_args, page_json, route
from subsidy.catalogue import service
from subsidy.catalogue.models import CODE_PATTERN
from subsidy.common.access import current_actor
from subsidy.projects.models import Unit


class SubsidyTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE_PATTERN, max_length=20)
    name: str = Field(max_length=service.NAME_MAX)
    unit: Unit


class SubsidyTypePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=service.NAME_MAX)
    unit: Unit


class SubsidyTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    prefecture_code: str
    code: str
    name: str
    unit: Unit
    created_at: datetime


@route("/subsidy-types", "POST", summary="Add a type to the city's subsidy catalogue (city admin)",
       body=SubsidyTypeIn, response=SubsidyTypeOut, status=201, tag="catalogue")
def create_type(body: SubsidyTypeIn):
    return service.create_type(current_actor(), **body.model_dump())


@route("/subsidy-types", "GET", summary="The subsidy catalogue of the user's city", response=SubsidyTypeOut,
       list_response=True, tag="catalogue", query={**PAGING})
def list_types():
    page, per_page = page_args()
    return page_json(SubsidyTypeOut, service.list_types(current_actor(), page=page, per_page=per_page))


@route("/subsidy-types/<int:type_id>", "GET", summary="One subsidy type", response=SubsidyTypeOut, tag="catalogue")
def get_type(type_id: int):
    return service.get_type(current_actor(), type_id)


@route("/subsidy-types/<int:type_id>", "PATCH", summary="Rename a subsidy type or change its unit (city admin)",
       body=SubsidyTypePatch, response=SubsidyTypeOut, tag="catalogue")
def update_type(type_id: int, body: SubsidyTypePatch):
    return service.update_type(current_actor(), type_id, **body.model_dump())

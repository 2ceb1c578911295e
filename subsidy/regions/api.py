"""API: regions (docs/api.md GET /regions/{code})."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from subsidy.api.spec import route
from subsidy.common.access import current_actor
from subsidy.regions import service
from subsidy.regions.models import Level


class RegionRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    level: Level


class RegionOut(RegionRef):
    parent_code: str | None
    children: list[RegionRef]


@route("/regions/<code>", "GET", summary="A region with its children", response=RegionOut, tag="regions")
def get_region(code: str):
    return service.get_region(current_actor(), code)

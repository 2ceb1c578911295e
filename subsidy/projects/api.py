"""API: subsidy projects (API.md POST /projects)."""
from __future__ import annotations

from decimal import Decimal

from flask import request
from pydantic import BaseModel, ConfigDict

from subsidy.api.spec import MoneyStr, page_args, page_json, route
from subsidy.common.access import current_actor
from subsidy.projects import service
from subsidy.projects.models import Category, Unit

class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    year: int
    category: Category
    unit: Unit
    rate: Decimal
    budget: Decimal
    publicity_days: int = 7
    fund_source: str = ""


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    county_code: str
    name: str
    year: int
    category: Category
    unit: Unit
    rate: MoneyStr
    budget: MoneyStr
    publicity_days: int
    fund_source: str


@route("/projects", "POST", summary="Create a subsidy project (county admin)", body=ProjectIn,
       response=ProjectOut, status=201, tag="projects")
def create_project(body: ProjectIn):
    return service.create_project(current_actor(), **body.model_dump())


@route("/projects", "GET", summary="Projects of the user's county", response=ProjectOut, list_response=True,
       tag="projects", query={"year": "", "page": "", "per_page": "max 200"})
def list_projects():
    page, per_page = page_args()
    year = request.args.get("year", type=int)
    return page_json(ProjectOut, service.list_projects(current_actor(), year=year, page=page, per_page=per_page))


@route("/projects/<int:project_id>", "GET", summary="One project", response=ProjectOut, tag="projects")
def get_project(project_id: int):
    return service.get_project(current_actor(), project_id)

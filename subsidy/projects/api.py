"""API: subsidy projects (docs/api.md POST /projects)."""
from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from subsidy.api.spec import PAGING, Q_YEAR, MoneyStr, Year, money_in, page_args, page_json, route
from subsidy.common.access import current_actor
from subsidy.common.params import year_arg
from subsidy.projects import service
from subsidy.projects.models import Category, Unit

RateIn = money_in("补贴标准", minimum=Decimal("0.01"), maximum=service.RATE_MAX, pattern=service.RATE_PATTERN)
BudgetIn = money_in("预算")
PriceIn = money_in("单价", maximum=service.RATE_MAX, pattern=service.RATE_PATTERN)


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=80)
    year: Year
    category: Category
    unit: Unit
    rate: RateIn
    budget: BudgetIn
    publicity_days: int = Field(default=7, ge=1, le=60)
    fund_source: str = Field(default="", max_length=80)
    # 实物补贴 (docs/api.md "Material subsidies"): required when category is material
    item: str | None = Field(default=None, max_length=200)
    item_unit: str | None = Field(default=None, max_length=200)
    unit_price: PriceIn | None = None
    # A code of the city's subsidy catalogue (GET /subsidy-types), paying by the same unit.
    subsidy_type: str | None = Field(default=None, max_length=20)


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
    item: str | None
    item_unit: str | None
    unit_price: MoneyStr | None
    subsidy_type: str | None


@route("/projects", "POST", summary="Create a subsidy project (county admin)", body=ProjectIn,
       response=ProjectOut, status=201, tag="projects")
def create_project(body: ProjectIn):
    return service.create_project(current_actor(), **body.model_dump())


@route("/projects", "GET", summary="Projects of the user's county", response=ProjectOut, list_response=True,
       tag="projects", query={"year": Q_YEAR, **PAGING})
def list_projects():
    page, per_page = page_args()
    year = year_arg()
    return page_json(ProjectOut, service.list_projects(current_actor(), year=year, page=page, per_page=per_page))


@route("/projects/<int:project_id>", "GET", summary="One project", response=ProjectOut, tag="projects")
def get_project(project_id: int):
    return service.get_project(current_actor(), project_id)

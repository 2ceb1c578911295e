"""API: `/stats/summary` (docs/api.md), from the same functions as the dashboard."""
from __future__ import annotations

from typing import Annotated

from flask import request
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from subsidy.api.spec import Q_YEAR, REGION_PATTERN, Year, q, route
from subsidy.common.access import current_actor
from subsidy.stats import assessment, service
from subsidy.stats.models import Figure

# A city's or province's code too (2 or 4 digits): its answer adds `children`.
Q_ANY_REGION = q("2, 4, 6, 9 or 12 digits; default: the user's region (404 outside it); a prefecture's or "
                 "province's answer adds `children`", type="string", pattern=REGION_PATTERN)


@route("/stats/summary", "GET", summary="Headline figures of a region in a year (report figures, docs/api.md)",
       tag="stats", query={"region_code": Q_ANY_REGION, "year": Q_YEAR})
def summary():
    return service.summary(current_actor(), request.args.get("region_code"), request.args.get("year"))


# --- the city's assessment (考核) -------------------------------------------------------------

Q_CITY = q("4 digits: the city (prefecture); default: the user's", type="string", pattern=r"^[0-9]{4}$")
Q_QUARTER = q("quarter 1..4; none: the whole year", type="integer", minimum=1, maximum=4)
WeightsIn = Annotated[dict[str, int], WithJsonSchema({
    "type": "object", "additionalProperties": False,
    "properties": {f.value: {"type": "integer", "minimum": 0, "maximum": 100} for f in Figure}})]


class AssessmentWeightsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region_code: Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^[0-9]{4}$"})] | None = None
    year: Year | None = None
    weights: WeightsIn


@route("/stats/assessment", "GET", summary="The city's assessment of its counties: score, rank and figures "
       "(city roles; docs/api.md)", tag="stats", query={"region_code": Q_CITY, "year": Q_YEAR, "quarter": Q_QUARTER})
def assessment_view():
    args = request.args
    return assessment.as_json(assessment.assessment(current_actor(), args.get("region_code"), args.get("year"),
                                                    args.get("quarter")))


@route("/stats/assessment/weights", "PUT", summary="Set the weights of the assessment's figures for a year "
       "(city admin); a figure left out keeps its weight", body=AssessmentWeightsIn, tag="stats")
def assessment_weights(body: AssessmentWeightsIn):
    weights = assessment.set_weights(current_actor(), body.region_code, body.year, body.weights)
    return {"weights": {f.value: weights[f] for f in Figure}}

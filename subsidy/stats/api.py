"""API: `/stats/summary` (docs/api.md), from the same functions as the dashboard."""
from __future__ import annotations

from flask import request

from subsidy.api.spec import Q_YEAR, q, route
from subsidy.common.access import current_actor
from subsidy.stats import service

# A city's or province's code too (2 or 4 digits): its answer adds `children`.
Q_ANY_REGION = q("2, 4, 6, 9 or 12 digits; default: the user's region (404 outside it); a prefecture's or "
                 "province's answer adds `children`", type="string",
                 pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$")


@route("/stats/summary", "GET", summary="Headline figures of a region in a year (report figures, docs/api.md)",
       tag="stats", query={"region_code": Q_ANY_REGION, "year": Q_YEAR})
def summary():
    return service.summary(current_actor(), request.args.get("region_code"), request.args.get("year"))

"""API: `/stats/summary` (docs/api.md), from the same functions as the dashboard."""
from __future__ import annotations

from flask import request

from subsidy.api.spec import Q_REGION, Q_YEAR, route
from subsidy.common.access import current_actor
from subsidy.stats import service


@route("/stats/summary", "GET", summary="Headline figures of a region in a year (report figures, docs/api.md)",
       tag="stats", query={"region_code": {**Q_REGION, "description": "6, 9 or 12 digits; default: the user's "
                                                                       "region (404 outside it)"},
                           "year": Q_YEAR})
def summary():
    return service.summary(current_actor(), request.args.get("region_code"), request.args.get("year"))

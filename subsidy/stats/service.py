"""Headline figures for a region, from set-based counts."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Project
from subsidy.regions.scope import within
from subsidy.regions.service import count_villages, county_of


def region_overview(actor) -> dict:
    code = actor.region_code
    hh = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(Household.phone), sa.func.coalesce(sa.func.sum(Household.land_area_mu), 0))
        .where(within(Household.region_code, code))
    ).one()
    projects = db.session.scalar(sa.select(sa.func.count()).select_from(Project).where(Project.county_code == county_of(code)))
    return {"villages": count_villages(code), "households": hh[0], "with_phone": hh[1], "land_mu": hh[2],
            "projects": projects}

"""Region look-ups, always through the actor's scope."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.permissions import exempt
from subsidy.errors import AboveCounty, NotFound
from subsidy.extensions import db
from subsidy.regions.models import Level, Region
from subsidy.regions.scope import ensure_visible, normalize_code, within


@exempt("region names are open to every staff role; ensure_visible decides which regions")
def get_region(actor, code: str) -> Region:
    code = normalize_code(code)
    region = db.session.get(Region, code)
    if region is None:
        raise NotFound("行政区划不存在")
    # Staff may see their own region, what lies under it, and the regions above it
    # (a village clerk sees the name of their township and county).
    if not (region.code.startswith(actor.region_code) or actor.region_code.startswith(region.code)):
        raise NotFound("行政区划不存在或不在您的管辖范围内")
    return region


def find_region(code: str) -> Region:
    region = db.session.get(Region, normalize_code(code))
    if region is None:
        raise NotFound("行政区划不存在")
    return region


@exempt("region names are open to every staff role; ensure_visible decides which regions")
def list_villages(actor, under: str | None = None) -> list[Region]:
    code = normalize_code(under) if under else actor.region_code
    ensure_visible(actor, code, "行政区划")
    return list(
        db.session.scalars(
            sa.select(Region).where(within(Region.code, code), Region.level == Level.village).order_by(Region.code)
        )
    )


def count_villages(code: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Region).where(within(Region.code, code), Region.level == Level.village)
    )


def county_of(code: str) -> str:
    """The county of a code at or under a county. A prefecture's or province's code has no
    county: refuse it rather than answer with the code itself ("6404"[:6] == "6404"), which
    would silently match no county's rows, or every county's. AboveCounty is a 403: a county's
    page opened by a city user is refused, never answered with the wrong rows."""
    if len(code) < 6:
        raise AboveCounty()
    return code[:6]


@exempt("a check itself: the county permission is declared by each writer that calls it")
def county_only_code(actor) -> str:
    """The county of an actor doing a county's own work (create a project, start a filing, make a
    batch, import a watch list, …). Those writers need county permissions, which no city role
    holds; refusing here as well (403) keeps a city code from ever being written as a county's,
    should a permission be granted by mistake."""
    return county_of(actor.region_code)


@exempt("region names are open to every staff role; ensure_visible decides which regions")
def list_regions_under(actor) -> list[Region]:
    """The actor's region and everything under it, in code order (a tree when indented)."""
    return list(db.session.scalars(
        sa.select(Region).where(within(Region.code, actor.region_code)).order_by(Region.code)))


@exempt("region names are open to every staff role; ensure_visible decides which regions")
def children_with_counts(actor, code: str):
    """Direct children of a region with their household counts, for the region browser."""
    from subsidy.households.models import Household

    region = get_region(actor, code)
    ensure_visible(actor, region.code, "行政区划")
    if not region.children:
        return region, []
    width = len(region.children[0].code)
    key = sa.func.substr(Household.region_code, 1, width)
    counts = dict(db.session.execute(
        sa.select(key, sa.func.count()).where(within(Household.region_code, region.code)).group_by(key)
    ).all())
    return region, [(child, counts.get(child.code, 0)) for child in region.children]

"""Who handles a case (承办单位), and where it may be transferred (docs/design.md "Cases").

- An inquiry goes to the township of the village it concerns (an inquiry about a township or
  the whole county goes to that township or the county).
- A complaint goes to the unit above the region it accuses, never to that region: a complaint
  about a village goes to its township, one about a township to the county, one about a
  county's own staff to the city (the prefecture, once its row exists; refused before, as
  nobody above the county could answer it).
- An objection goes to the township that reviews the filing of the entry objected to.
- No case is about the city or the province itself: those are not a farmer's counterpart.

Transfers stay within the county of the case ("within the limits"); a case the city handles
may be transferred into any county of the city, and a county never passes a case upwards
(that is 督办, escalation). A transfer never goes to the unit already handling it, and a
complaint is never transferred to the region it accuses nor to a unit under it (the schema
enforces this too). A transfer does not restart the clock: the farmer does not wait longer
because a case was misrouted.
"""
from __future__ import annotations

from subsidy.cases.models import Case, CaseKind
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.regions.models import CODE_LENGTH, Level, Region
from subsidy.regions.scope import ancestors, county_scope, covers

# The top of the handling chain: nobody above the city answers cases (no province users).
TOP_WIDTH = CODE_LENGTH[Level.prefecture]


def tier_above(code: str) -> str:
    """The unit above a handling unit: village → township → county → city, the city being
    the top. A unit whose parent has no row (a county before its city is loaded) is its own
    top, as the county was before the city tier."""
    if len(code) <= TOP_WIDTH:
        return code
    parent = ancestors(code)[-1]
    return parent if db.session.get(Region, parent) is not None else code


def accuses(case_kind: CaseKind, concerned_code: str, unit_code: str) -> bool:
    """True when `unit_code` is the region a complaint is about, or lies under it."""
    return case_kind == CaseKind.complaint and unit_code.startswith(concerned_code)


def route(kind: CaseKind, region: Region) -> str:
    """The handling unit for a new case about `region` (a village for objections)."""
    if len(region.code) < CODE_LENGTH[Level.county]:
        raise ValidationError("诉求须涉及县、乡镇或村", fields={"region_code": "请选择诉求涉及的县、乡镇或村"})
    if kind == CaseKind.complaint:
        above = tier_above(region.code)
        if above == region.code:
            raise ValidationError("投诉须指明所涉及的村或乡镇", fields={"region_code": "请选择被投诉的村或乡镇"})
        return above
    if kind == CaseKind.objection:
        if region.level != Level.village:
            raise ValidationError("异议须针对村级公示名单", fields={"region_code": "应为村代码"})
        return ancestors(region.code)[-1]
    # inquiry
    if region.level == Level.village:
        return ancestors(region.code)[-1]
    return region.code


def transfer_range(case: Case) -> str:
    """The region a case may be transferred within: the city's when the city handles it, else
    the county of the case."""
    if len(case.assigned_region_code) <= TOP_WIDTH:
        return case.assigned_region_code
    return county_scope(case.region_code)


def check_transfer(case: Case, target: Region) -> None:
    """Refuse a transfer target that breaks the routing rules above."""
    if not covers(transfer_range(case), target.code) or len(target.code) < CODE_LENGTH[Level.county]:
        if len(case.assigned_region_code) <= TOP_WIDTH:
            raise ValidationError("只能转办给本市各县的单位",
                                  fields={"region_code": "请选择本市各县的县级、乡镇或村单位"})
        raise ValidationError("只能转办给本县的单位", fields={"region_code": "请选择本县的乡镇、村或县级单位"})
    if target.code == case.assigned_region_code:
        raise ValidationError("该诉求已由此单位办理", fields={"region_code": "请选择另一个单位"})
    if accuses(case.kind, case.region_code, target.code):
        raise ValidationError("投诉不能转给被投诉的单位办理",
                              fields={"region_code": "投诉不能转给被投诉的村（乡镇）或其下属单位"})

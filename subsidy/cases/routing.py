"""Who handles a case (承办单位), and where it may be transferred (docs/design.md "Cases").

- An inquiry goes to the township of the village it concerns (an inquiry about a township or
  the whole county goes to that township or the county).
- A complaint goes to the township of the village it accuses, never to the village; a
  complaint about a township (its `region_code` is the township's 9-digit code) goes to the
  county. A complaint must name a village or a township: one about the county itself is for
  the city and is refused here.
- An objection goes to the township that reviews the filing of the entry objected to.

Transfers stay within the county of the case ("within the limits"), never go to the unit
already handling it, and a complaint is never transferred to the region it accuses nor to a
unit under it (the schema enforces this too). A transfer does not restart the clock: the
farmer does not wait longer because a case was misrouted.
"""
from __future__ import annotations

from subsidy.cases.models import Case, CaseKind
from subsidy.errors import ValidationError
from subsidy.regions.models import Level, Region


def tier_above(code: str) -> str:
    """The unit above a handling unit: village → township → county (the county is the top)."""
    if len(code) == 12:
        return code[:9]
    return code[:6]


def accuses(case_kind: CaseKind, concerned_code: str, unit_code: str) -> bool:
    """True when `unit_code` is the region a complaint is about, or lies under it."""
    return case_kind == CaseKind.complaint and unit_code.startswith(concerned_code)


def route(kind: CaseKind, region: Region) -> str:
    """The handling unit for a new case about `region` (a village for objections)."""
    if kind == CaseKind.complaint:
        if region.level == Level.village:
            return region.code[:9]
        if region.level == Level.township:
            return region.code[:6]
        raise ValidationError("投诉须指明所涉及的村或乡镇", fields={"region_code": "请选择被投诉的村或乡镇"})
    if kind == CaseKind.objection:
        if region.level != Level.village:
            raise ValidationError("异议须针对村级公示名单", fields={"region_code": "应为村代码"})
        return region.code[:9]
    # inquiry
    if region.level == Level.village:
        return region.code[:9]
    return region.code


def check_transfer(case: Case, target: Region) -> None:
    """Refuse a transfer target that breaks the routing rules above."""
    if target.code[:6] != case.region_code[:6]:
        raise ValidationError("只能转办给本县的单位", fields={"region_code": "请选择本县的乡镇、村或县级单位"})
    if target.code == case.assigned_region_code:
        raise ValidationError("该诉求已由此单位办理", fields={"region_code": "请选择另一个单位"})
    if accuses(case.kind, case.region_code, target.code):
        raise ValidationError("投诉不能转给被投诉的单位办理",
                              fields={"region_code": "投诉不能转给被投诉的村（乡镇）或其下属单位"})

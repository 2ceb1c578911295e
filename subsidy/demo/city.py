"""The demo city's own work, up the chain: a city-wide policy on every county's farmer pages,
and a complaint about a county's own staff, routed to the city and answered there by the city
supervisor (docs/design.md "Cases"). Through the services, as the demo users."""
from __future__ import annotations

import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.extensions import db
from subsidy.households.models import Household

CITY_POLICY = (
    "固原市{year}年惠农补贴资金“一卡通”发放管理办法", "other",
    "全市各类惠农补贴资金一律通过“一卡通”直接发放到户，任何单位和个人不得代领、截留、挪用。\n\n"
    "补贴名单经村级公示、乡镇审核、县级审定后发放；对名单有异议的，可在公示期内向乡镇提出，"
    "对县级部门工作人员的投诉，由市级受理。",
    "**政策解读：** 本办法适用于全市五个县（区）。发放后农户会收到短信通知，"
    "可在手机端“我的补贴”查看每一笔资金。",
)
COUNTY_COMPLAINT = ("县农业农村局工作人员办事推诿",
                    "到县农业农村局咨询补贴面积核定，工作人员让我找乡镇，乡镇又让我找县里，来回跑了三趟没人管。")


def _user(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def city_policies(year: int) -> int:
    """One city-wide policy, written and published by the city admin (region 6404): it shows on
    every county's farmer pages. Kept if it exists."""
    from subsidy.policies import service as policies
    from subsidy.policies.models import Policy

    admin = _user("cityadmin")
    if admin is None:
        return 0
    title, category, body, interpretation = CITY_POLICY
    title = title.format(year=year)
    if db.session.scalar(sa.select(Policy.id).where(Policy.county_code == admin.region_code, Policy.title == title)):
        return 0
    policy = policies.create_policy(admin, title=title, category=category, body=body,
                                    interpretation=interpretation, region_code=admin.region_code)
    policies.publish_policy(admin, policy.id)
    return 1


def county_complaint_script(clerk: User, county: str, household: Household, received: int):
    """A farmer complains by phone to the village about the county's own staff: the village
    clerk records it about the county, it goes to the city (hidden from every user of that
    county), and the city supervisor starts handling it the next day. A scenario script
    (subsidy.demo.scenario.run_scripts): yields the moments of its steps."""
    from subsidy.cases import service
    from subsidy.cases.models import CaseKind, Channel
    from subsidy.demo.scenario import at

    yield at(received, 11, 20)
    subject, body = COUNTY_COMPLAINT
    case = service.record_case(clerk, kind=CaseKind.complaint.value, channel=Channel.phone.value,
                               subject=subject, body=body, contact_name=household.head_name,
                               contact_phone=household.phone or "13909540001", region_code=county,
                               household_id=household.id)
    supervisor = _user("citysupervisor")
    if supervisor is None:
        return
    yield at(received - 1, 9, 30)
    service.accept_case(supervisor, case.id, "已转市纪委监委核查，请县农业农村局说明情况")

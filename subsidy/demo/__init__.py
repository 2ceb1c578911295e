"""The demo city 固原市 (6404) in 宁夏 (64): its county 彭阳县 (640425) in full, with 12 townships,
105 villages, staff of every role, households with valid ID numbers, and projects typical of the
county; its four other counties small (two townships of three villages, a few households each, staff
of every county role, a shorter story each: subsidy.demo.counties), so that a load stays fast;
and the city's own users.
Idempotent: what exists is kept (a 640425 loaded before the city existed is attached to it).

彭阳县's township codes follow the official ones; the other counties' township codes and every
village's name are invented, their codes follow the scheme (township code + 2xx)."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from stdnum.cn import ric
from werkzeug.security import generate_password_hash

from subsidy.accounts.models import Role, User
from subsidy.audit import service as audit
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.projects.models import Category, Project, Unit
from subsidy.regions.models import Level, Region

PROVINCE = ("64", "宁夏回族自治区")
CITY = ("6404", "固原市")
COUNTY = ("640425", "彭阳县")
# The city's other counties: code, name, the code on ID numbers issued before 2001 (固原地区's
# counties then, as python-stdnum knows them: 原州区 was 固原县), and two townships.
OTHER_COUNTIES = [
    ("640402", "原州区", "642221", [("640402100", "三营镇"), ("640402101", "官厅镇")]),
    ("640422", "西吉县", "642223", [("640422100", "吉强镇"), ("640422101", "兴隆镇")]),
    ("640423", "隆德县", "642224", [("640423100", "城关镇"), ("640423101", "沙塘镇")]),
    ("640424", "泾源县", "642225", [("640424100", "香水镇"), ("640424101", "泾河源镇")]),
]
ISSUING_BEFORE_2001 = {COUNTY[0]: "642226", **{code: old for code, _, old, _ in OTHER_COUNTIES}}
VILLAGES_PER_SMALL_TOWNSHIP = 3
HOUSEHOLDS_PER_SMALL_VILLAGE = 10
TOWNSHIPS = [
    ("640425100", "白阳镇", 10), ("640425101", "王洼镇", 9), ("640425102", "古城镇", 9),
    ("640425103", "红河镇", 9), ("640425200", "新集乡", 9), ("640425201", "城阳乡", 9),
    ("640425202", "冯庄乡", 9), ("640425203", "小岔乡", 9), ("640425204", "孟塬乡", 8),
    ("640425205", "罗洼乡", 8), ("640425206", "交岔乡", 8), ("640425207", "草庙乡", 8),
]
_FIRST = "阳杨姚崾张李王刘陈马周吴赵孙郭何高罗韩冯"
_SECOND = ["洼", "坪", "河", "塬", "沟", "岔", "庄", "湾", "川", "台", "岭", "峁", "堡", "渠", "源"]
SURNAMES = ("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏"
            "薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
GIVEN = "建国明华军平志强伟兰英秀梅玉芳海龙刚红霞福贵德林生荣成斌宏小丽兴旺春花宝山"

DEMO_PASSWORD = "demo2024"
DEMO_USERS = [
    ("admin", "县管理员", Role.county_admin, "640425"),
    ("county", "县审核员", Role.county_reviewer, "640425"),
    ("township", "白阳镇审核员", Role.township_reviewer, "640425100"),
    ("village", None, Role.village_clerk, "640425100201"),  # named after its village (region_name)
    ("supervisor", "县纪委监督员", Role.supervisor, "640425"),
    ("cityadmin", "市管理员", Role.city_admin, "6404"),
    ("citysupervisor", "市纪委监督员", Role.city_supervisor, "6404"),
] + [user for code, name, _, townships in OTHER_COUNTIES for user in (
    (f"admin{code}", f"{name}管理员", Role.county_admin, code),
    (f"county{code}", f"{name}审核员", Role.county_reviewer, code),
    (f"township{code}", f"{townships[0][1]}审核员", Role.township_reviewer, townships[0][0]),
    (f"village{code}", None, Role.village_clerk, townships[0][0] + "201"),
    (f"supervisor{code}", f"{name}纪委监督员", Role.supervisor, code),
)]
PROJECTS = [
    ("耕地地力保护补贴", Category.cash, Unit.mu, "105.00", "30000000.00", "中央财政"),
    ("基础母牛养殖补贴", Category.cash, Unit.head, "2000.00", "8000000.00", "自治区财政"),
    ("农村危房改造补助", Category.cash, Unit.household, "20000.00", "12000000.00", "中央和自治区财政"),
    ("地膜覆盖补贴（实物）", Category.material, Unit.mu, "1.50", "3000000.00", "县级财政"),
]
# 实物补贴 (docs/design.md "Material subsidies"): the goods, their unit and price; the rate above is
# then rolls per 亩 (1.50 卷 × 24.00 元 = 36.00 元 a 亩).
GOODS = {"地膜覆盖补贴（实物）": ("地膜", "卷", "24.00")}


def village_names(count: int, rng: random.Random) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(_FIRST) + rng.choice(_SECOND) + "村"
        if name not in names:
            names.append(name)
    return names


def issuing_code(birth: date, county: str = COUNTY[0]) -> str:
    """彭阳县 was 642226 (固原地区) until 2001, and the city's other counties had their 6422xx
    codes too; ID numbers keep the code of the place and time of issue, so residents born
    before 2001 carry the old code (python-stdnum checks this)."""
    return ISSUING_BEFORE_2001.get(county, county) if birth < date(2001, 1, 1) else county


def make_id_number(region6: str | None, birth: date, seq: int, female: bool, county: str = COUNTY[0]) -> str:
    """A GB 11643 number with a correct check digit; the sequence's last digit carries sex."""
    region6 = region6 or issuing_code(birth, county)
    seq3 = (seq % 500) * 2 + (0 if female else 1)
    body = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function ignores the last character


def make_phone(rng: random.Random) -> str:
    return rng.choice(["139", "138", "136", "158", "151", "187", "188", "177"]) + f"{rng.randrange(10**8):08d}"


def region_names() -> dict[str, str]:
    """Code → name of every demo region, as `_regions` draws them (the same seed)."""
    names = village_names(sum(n for _, _, n in TOWNSHIPS), random.Random(640425))
    out, i = {PROVINCE[0]: PROVINCE[1], CITY[0]: CITY[1], COUNTY[0]: COUNTY[1]}, 0
    for code, name, n_villages in TOWNSHIPS:
        out[code] = name
        for v in range(n_villages):
            out[f"{code}{201 + v}"] = names[i]
            i += 1
    for county, county_name, _, townships in OTHER_COUNTIES:
        out[county] = county_name
        small = village_names(len(townships) * VILLAGES_PER_SMALL_TOWNSHIP, random.Random(int(county)))
        for t_index, (code, name) in enumerate(townships):
            out[code] = name
            for v in range(VILLAGES_PER_SMALL_TOWNSHIP):
                out[f"{code}{201 + v}"] = small[t_index * VILLAGES_PER_SMALL_TOWNSHIP + v]
    return out


def user_name(name: str | None, region_code: str) -> str:
    """A demo user's name: a village clerk's is its village's (阳洼村经办员)."""
    return name or region_names()[region_code] + "经办员"


def _regions() -> int:
    rng = random.Random(640425)
    existing = set(db.session.scalars(sa.select(Region.code)))
    rows = []
    if PROVINCE[0] not in existing:
        rows.append(dict(code=PROVINCE[0], name=PROVINCE[1], level=Level.province, parent_code=None,
                         phone=None, sms_signature=None))
    if CITY[0] not in existing:
        rows.append(dict(code=CITY[0], name=CITY[1], level=Level.prefecture, parent_code=PROVINCE[0],
                         phone="0954-2012345", sms_signature="【固原市惠农】"))
    if COUNTY[0] not in existing:
        rows.append(dict(code=COUNTY[0], name=COUNTY[1], level=Level.county, parent_code=CITY[0],
                         phone="0954-7012345", sms_signature="【彭阳县惠农】"))
    names = village_names(sum(n for _, _, n in TOWNSHIPS), rng)
    i = 0
    for t_index, (code, name, n_villages) in enumerate(TOWNSHIPS):
        if code not in existing:
            rows.append(dict(code=code, name=name, level=Level.township, parent_code=COUNTY[0],
                             phone=f"0954-70{t_index + 10:02d}{t_index:03d}", sms_signature=None))
        for v in range(n_villages):
            vcode = f"{code}{201 + v}"
            if vcode not in existing:
                rows.append(dict(code=vcode, name=names[i], level=Level.village, parent_code=code,
                                 phone=None, sms_signature=None))
            i += 1
    names = region_names()
    for c_index, (county, county_name, _, townships) in enumerate(OTHER_COUNTIES):
        if county not in existing:
            rows.append(dict(code=county, name=county_name, level=Level.county, parent_code=CITY[0],
                             phone=f"0954-60{c_index:02d}345", sms_signature=f"【{county_name}惠农】"))
        for t_index, (code, name) in enumerate(townships):
            if code not in existing:
                rows.append(dict(code=code, name=name, level=Level.township, parent_code=county,
                                 phone=f"0954-60{c_index:02d}{t_index + 100:03d}", sms_signature=None))
            for v in range(VILLAGES_PER_SMALL_TOWNSHIP):
                vcode = f"{code}{201 + v}"
                if vcode not in existing:
                    rows.append(dict(code=vcode, name=names[vcode], level=Level.village, parent_code=code,
                                     phone=None, sms_signature=None))
    for row in rows:  # parents before children, as the foreign key wants
        db.session.execute(sa.insert(Region), [row])
    # A 彭阳县 loaded before the city existed (or a deployment migrated to 0022) has no parent:
    # attach it, so the region tree reads 宁夏 → 固原市 → 彭阳县.
    db.session.execute(sa.update(Region).where(Region.code == COUNTY[0], Region.parent_code.is_(None))
                       .values(parent_code=CITY[0]))
    return len(rows)


def _households(per_village: int) -> int:
    villages = list(db.session.scalars(
        sa.select(Region.code).where(Region.level == Level.village).order_by(Region.code)))
    existing = set(db.session.scalars(sa.select(Household.id_number)))
    small = {county for county, *_ in OTHER_COUNTIES}
    rows = []
    index_in_county: dict[str, int] = {}
    for vcode in villages:
        county = vcode[:6]
        # The place of a village among its county's: the ID numbers' sequence, so that adding the
        # city's other counties left 彭阳县's households as they were.
        v_index = index_in_county[county] = index_in_county.get(county, -1) + 1
        rng = random.Random(int(vcode))
        count = min(per_village, HOUSEHOLDS_PER_SMALL_VILLAGE) if county in small else per_village
        for h in range(count):
            # Draw every field before deciding to skip, so a second run draws the same values.
            birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
            female = rng.random() < 0.2
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            phone = None if rng.random() < 0.03 else make_phone(rng)
            account = "6231" + f"{rng.randrange(10**15):015d}"
            members = rng.randint(1, 7)
            land = Decimal(rng.randrange(300, 4000)) / 100
            id_number = make_id_number(None, birth, v_index * 100 + h, female, county)
            if id_number in existing:
                continue
            existing.add(id_number)
            rows.append(dict(region_code=vcode, head_name=name, id_number=id_number, phone=phone,
                             payout_account=account, members=members, land_area_mu=land))
    if rows:
        db.session.execute(sa.insert(Household), rows)
    return len(rows)


def _users() -> int:
    have = set(db.session.scalars(sa.select(User.username)))
    created, password_hash = 0, None
    for username, name, role, region in DEMO_USERS:
        if username not in have:
            password_hash = password_hash or generate_password_hash(DEMO_PASSWORD)  # one shared password
            db.session.add(User(username=username, name=user_name(name, region), role=role, region_code=region,
                                password_hash=password_hash))
            created += 1
    db.session.flush()
    return created


def _projects(year: int) -> int:
    have = set(db.session.scalars(
        sa.select(Project.name).where(Project.county_code == COUNTY[0], Project.year == year)))
    created = 0
    for name, category, unit, rate, budget, source in PROJECTS:
        if name not in have:
            item, item_unit, price = GOODS.get(name, (None, None, None))
            db.session.add(Project(county_code=COUNTY[0], name=name, year=year, category=category, unit=unit,
                                   rate=Decimal(rate), budget=Decimal(budget), publicity_days=7, fund_source=source,
                                   item=item, item_unit=item_unit, unit_price=Decimal(price) if price else None))
            created += 1
    db.session.flush()
    return created


POLICIES = [
    ("{year}年耕地地力保护补贴政策", "planting",
     "补贴对象为拥有耕地承包权的种地农民，补贴标准为每亩 **105 元**，资金通过“一卡通”直接发放到户。\n\n"
     "补贴面积以村级公示、乡镇审核、县级审定的面积为准。公示期内对名单有异议的，可向乡镇提出。",
     "**政策解读：** 已改为非农用途或长年抛荒的耕地不享受补贴。名单在村务公开栏和手机端“村级公示”同时公示 7 天。"),
    ("基础母牛养殖补贴实施办法", "livestock",
     "对存栏能繁母牛的养殖户，按每头 **2000 元** 的标准给予补贴，由村级核实存栏数后上报。",
     "**政策解读：** 以乡镇畜牧站核实的存栏数为准；同一头牛不得在两个项目中重复申报。"),
]


def _policies(year: int) -> int:
    """Two published policies, written and published through the policies service as the
    demo county admin, so the farmers' home page has something to show."""
    from subsidy.policies import service as policies
    from subsidy.policies.models import Policy

    admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
    if admin is None:
        return 0
    have = set(db.session.scalars(sa.select(Policy.title).where(Policy.county_code == COUNTY[0])))
    created = 0
    for title, category, body, interpretation in POLICIES:
        title = title.format(year=year)
        if title not in have:
            policy = policies.create_policy(admin, title=title, category=category, body=body,
                                            interpretation=interpretation, region_code=COUNTY[0])
            policies.publish_policy(admin, policy.id)
            created += 1
    return created


def load_demo(households_per_village: int = 50, year: int | None = None, scenario: bool = True) -> str:
    """The county, its people and projects; with `scenario`, a few weeks of their work
    (subsidy.demo.scenario), once, and only for this year's projects (it is dated from today)."""
    year = year or date.today().year
    counts = {
        "regions": _regions(),
        "users": _users(),
        "households": _households(households_per_village),
        "projects": _projects(year),
        "policies": _policies(year),
    }
    from subsidy.demo.city import city_policies

    counts["policies"] += city_policies(year)
    if scenario:
        from subsidy.demo.scenario import load_scenario

        counts.update(load_scenario(year))
        # The small counties' stories skip a county that holds a filing: before the catalogue's
        # 原州区 list, and before the household moved into 原州区 gets its question there.
        from subsidy.demo.counties import load_counties

        counts.update(load_counties(year))
        from subsidy.demo.moves import move_household

        counts.update(move_household())
    from subsidy.demo.catalogue import load_catalogue

    counts.update(load_catalogue(year))
    if any(counts.values()):
        audit.record(None, "demo.load", "region", CITY[0], region_code=CITY[0], **counts)
    return "demo city 6404 固原市 (its county 640425 彭阳县 in full): created " + ", ".join(
        f"{v} {k}" for k, v in counts.items())


def demo_logins() -> list[tuple[str, str, str]]:
    names = region_names()
    return [(u, DEMO_PASSWORD, f"{r.label} @ {code} {names[code]}") for u, _, r, code in DEMO_USERS]

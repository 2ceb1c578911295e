"""A synthetic province for the benchmarks, written with bulk paths.

    python -m bench.generate [--households N] [--seed S] [--database-url URL] [--reset] [--big-filing K]
                             [--county-households M]
    python bench/generate.py  ...                                   (the same)

N households (default 1,000,000) in counties of ~M (default 50,000; N // M counties, at least
one), five counties to a city, the cities in the province 64 宁夏回族自治区: a province of several
cities (the default: 20 counties in 4 cities). The first city is 固原市 6404 with its real counties
in the order 640425 彭阳县, 640402 原州区, 640422 西吉县, 640423 隆德县, 640424 泾源县; the others are 6405,
6406, … with counties 64PP01, 64PP02, … (GB/T 2260's shape), names invented. The first county is
the demo county 640425 with its real 12 townships and 105 villages (the benchmarks query it, and
the demo logins work on it); every other county has the same shape of townships (codes 100–103,
200–207) and villages (201, 202, …). Without a URL (or DATABASE_URL) a fresh SQLite file in a
temporary directory is used and its path printed. A PostgreSQL database must be empty, or be
named with --reset, which DROPS its public schema: point it at a scratch database only. The
schema is built by the migrations; rows are then written with binary COPY (psycopg's
`cursor.copy`, from a worker thread while the next rows are made) on PostgreSQL and executemany
on SQLite, one transaction per county, with every index no foreign key needs dropped during the
load and rebuilt after it; then ANALYZE, and every serial sequence is set past its table's
largest id so the app inserts normally afterwards. The province (28.7 million rows, 3.9 million
entries) takes about 6 minutes on PostgreSQL on the 2-core machine; a county about 35 s on
SQLite.

The same seed and N give identical rows. What there is, for the year 2026 (`YEAR`):
- regions of every level (province, cities, counties, townships, villages, each linked to its
  parent); households with valid, unique GB 11643 ID numbers (issued by real Ningxia codes
  valid in the birth year: 642226 for 彭阳县 and 固原地区's 6422xx for the city's other counties, as
  the demo does), mobile numbers (3 % missing), 一卡通 accounts (0.2 % shared with a neighbour),
  members, land (8 % none);
- a catalogue per city (`subsidy_types`, kept by its city admin): one type per project name,
  every county's project an instance of its city's type (`TYPE_CODES`);
- 20 projects per county (18 cash, 2 material) with ~`ENTRIES_PER_HOUSEHOLD` entries a household
  (3.9 million for the province), amount = rate × quantity (0.1 % above it, 0.1 % above the land);
  a material project's rate is goods per 亩 and its amount the goods due at its unit price;
- one filing per (project, village) in every state of the workflow — draft (fresh, withdrawn
  from publicity, returned by the township), publicizing, village_filed (some returned by the
  county), township_approved, county_approved, paid — with the review record, the audit event
  and the snapshot (digest by `subsidy.filings.snapshots.digest_of`, lines copied) of every
  transition it went through; 1 % of paid filings have a paid list that differs from the
  county's (a quantity changed after 审定); risk flags as `risk.py` would find them, and a
  township note on every flag of a list the township approved; a county watch list;
- payment batches per cash project: a settled one (results imported; a few failures re-issued
  in a settled re-issue batch, or still waiting on partly paid filings) and an open, exported
  one of pending payments;
- 实物: each material project's deliveries into every township's store (a little more than its
  villages hand out) and the households' pickups: every entry of a paid (发放完毕) material list
  collected in full, those of a county-approved one collected in full, in part or not yet (a held
  entry never), some by a proxy, each with its audit event;
- SMS in every status of the outbox: an approval message per approved entry, a payment
  message per paid payment, a reply message per answered case, a broadcast to one township;
  opted-out numbers; sign-ins on the mobile pages (60 % of households with a phone);
- 53 policies per county (published, draft, withdrawn), the report's 3,772 cases per county
  (scaled to the county's size) in every state, with their timelines and case counters;
- staff: admin, county, township, village, supervisor (the demo's names and password
  `demo2024`) in 640425, cityadmin and citysupervisor in 6404 (and cityadmin6405,
  citysupervisor6405, … in the other cities), and an admin, a supervisor, a county reviewer, a
  township reviewer per township and a clerk per village everywhere, all sharing one password hash;
- with --big-filing K: one more village in 640425 (640425100299, township 白阳镇) with K more
  households and ONE filing of K entries in state township_approved, awaiting the county.

`generate(url_or_engine, households=..., seed=..., big_filing=...)` does the same from Python
and returns a dict: the row count of every table (`counts`), `households`, `entries`, `filings`,
`filing_states` (filings per state), `rows`, `seconds`, `seed`, `year` (of every project and
filing), `county` ("640425"), `city` ("6404"), `cities` ([{"code", "name", "counties":
[codes]}]), `users` ({"admin": "admin", "county_reviewer": "county", "township_reviewer":
"township", "village_clerk": "village", "supervisor": "supervisor", "city_admin": "cityadmin",
"city_supervisor": "citysupervisor"}), `password`, `big_filing` (None or {"id", "entries",
"village", "project_id", "township", "version"}), `farmers` (a few 640425 households with a
phone and an entry: {"id", "id_number", "phone", "region_code"}) and `url` (where it went, if a
URL was given).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from math import gcd
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.bulkload import Loader, SecondaryIndexes, analyze, is_empty, set_sequences  # noqa: E402
from bench.cross_county import CrossCounty  # noqa: E402

# The audit key of every generated database: apps that open one (the benchmarks, the tests that
# check the generator) set AUDIT_KEY to it, so that the generated chain verifies.
AUDIT_KEY = "bench-audit-key"

YEAR = 2026
DEFAULT_SEED = 640425
DEFAULT_HOUSEHOLDS = 1_000_000
COUNTY_HOUSEHOLDS = 50_000
ENTRIES_PER_HOUSEHOLD = 4.0
DEMO_COUNTY = "640425"
# The province is made of cities of five counties each, 固原市 first with its real counties in
# this order (the demo county, the one the benchmarks query, first): the others are 64PP01, 64PP02, ….
COUNTIES_PER_CITY = 5
DEMO_CITY_COUNTIES = [DEMO_COUNTY, "640402", "640422", "640423", "640424"]
PROVINCE_CODE, PROVINCE_NAME = "64", "宁夏回族自治区"
BIG_VILLAGE = "640425100299"
UTC = UTC
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Birth dates of heads of household; every code below was valid as an issuing place all along.
BIRTH_FIRST, BIRTH_LAST = date(1945, 1, 1), date(2000, 12, 31)
BIRTH_DAYS = (BIRTH_LAST - BIRTH_FIRST).days + 1
PENGYANG_ISSUING = "642226"  # 彭阳县 before 2001 (subsidy.demo.issuing_code)
OTHER_ISSUING = ["640121", "640122", "640221", "640222", "642221", "642222", "642223", "642224", "642225"]


def utc(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(YEAR, month, day, hour, minute, tzinfo=UTC)


REGISTER_AT = utc(1, 12)
PROJECTS_AT = utc(2, 20)
FILINGS_AT = utc(3, 2)
PUBLICITY_FROM = utc(3, 20)
LATE_APPROVAL_FROM = utc(10, 12)
BATCH_A_AT, BATCH_A_SETTLED = utc(6, 1), utc(6, 8)
BATCH_B_AT, BATCH_B_SETTLED = utc(6, 20), utc(6, 25)
BATCH_C_AT = utc(11, 12)
BIG_FILING_FROM = utc(10, 26)
GENERATED_AT = utc(11, 28)

# name, category, unit, rate, share of households in it (before scaling), fund source
PROJECTS = [
    ("耕地地力保护补贴", "cash", "mu", "105.00", 0.92, "中央财政"),
    ("玉米生产者补贴", "cash", "mu", "150.00", 0.45, "中央财政"),
    ("草原生态保护补助奖励", "cash", "mu", "7.50", 0.35, "中央财政"),
    ("地膜覆盖补贴（实物）", "material", "mu", "1.50", 0.30, "县级财政"),
    ("农业保险保费补贴", "cash", "mu", "12.00", 0.30, "自治区财政"),
    ("退耕还林补助", "cash", "mu", "90.00", 0.25, "中央财政"),
    ("小麦良种补贴", "cash", "mu", "10.00", 0.20, "中央财政"),
    ("马铃薯良种补贴", "cash", "mu", "50.00", 0.15, "自治区财政"),
    ("有机肥替代化肥补贴（实物）", "material", "mu", "40.00", 0.15, "县级财政"),
    ("肉羊养殖补贴", "cash", "head", "300.00", 0.10, "自治区财政"),
    ("基础母牛养殖补贴", "cash", "head", "2000.00", 0.08, "自治区财政"),
    ("农村低保金", "cash", "person", "300.00", 0.06, "中央和自治区财政"),
    ("高效节水灌溉补贴", "cash", "mu", "200.00", 0.05, "中央财政"),
    ("高龄津贴", "cash", "person", "1200.00", 0.05, "自治区财政"),
    ("光伏扶贫收益分配", "cash", "household", "1000.00", 0.05, "县级财政"),
    ("果树种植补贴", "cash", "mu", "300.00", 0.04, "县级财政"),
    ("农机购置补贴", "cash", "item", "3000.00", 0.03, "中央财政"),
    ("残疾人两项补贴", "cash", "person", "100.00", 0.03, "自治区财政"),
    ("生态护林员补助", "cash", "household", "10000.00", 0.02, "中央财政"),
    ("农村危房改造补助", "cash", "household", "20000.00", 0.01, "中央和自治区财政"),
]
# Each project's subsidy type in its city's catalogue (subsidy_types.code), by project name: every
# county's project of a name is an instance of the one type, so figures and the cross-county
# checks compare them across the city.
TYPE_CODES = {
    "耕地地力保护补贴": "gengdi_baohu", "玉米生产者补贴": "yumi_shengchan", "草原生态保护补助奖励": "caoyuan_shengtai",
    "地膜覆盖补贴（实物）": "dimo_fugai", "农业保险保费补贴": "nongye_baoxian", "退耕还林补助": "tuigeng_huanlin",
    "小麦良种补贴": "xiaomai_liangzhong", "马铃薯良种补贴": "malingshu_liangzhong",
    "有机肥替代化肥补贴（实物）": "youjifei_tidai", "肉羊养殖补贴": "rouyang_yangzhi",
    "基础母牛养殖补贴": "jichu_muniu",
    "农村低保金": "nongcun_dibao", "高效节水灌溉补贴": "jieshui_guangai", "高龄津贴": "gaoling_jintie",
    "光伏扶贫收益分配": "guangfu_fupin", "果树种植补贴": "guoshu_zhongzhi", "农机购置补贴": "nongji_gouzhi",
    "残疾人两项补贴": "canji_liangxiang", "生态护林员补助": "hulinyuan_buzhu", "农村危房改造补助": "weifang_gaizao",
}
# A material project's goods (its rate above is goods per 亩): item, unit, unit price.
GOODS = {"地膜覆盖补贴（实物）": ("地膜", "卷", Decimal("24.00")),
         "有机肥替代化肥补贴（实物）": ("有机肥", "公斤", Decimal("1.00"))}
STATES = ["draft", "publicizing", "village_filed", "township_approved", "county_approved", "paid"]
STATE_WEIGHTS = [8, 6, 8, 8, 15, 55]
SMS_STATUSES = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "cancelled"]

# The workflow's transitions (subsidy.filings.workflow.MACHINE): action, tier, from, to, snapshot stage.
PUB = ("publicize", "village", "draft", "publicizing", "publicized")
WDR = ("withdraw", "village", "publicizing", "draft", None)
SUB = ("submit", "village", "publicizing", "village_filed", "village")
TAP = ("approve", "township", "village_filed", "township_approved", "township")
TRT = ("return", "township", "village_filed", "draft", None)
CAP = ("approve", "county", "township_approved", "county_approved", "county")
CRT = ("return", "county", "township_approved", "village_filed", None)
PAY = ("pay", "county", "county_approved", "paid", "paid")
REO = ("reopen", "county", "county_approved", "draft", None)
REASONS = {"withdraw": "公示名单有误，撤回核实", "return": "部分农户面积与台账不符，退回核实",
           "reopen": "核查发现个别农户面积有误，发起更正"}

COUNTY_NAMES = "安平永宁兴和丰泰清长盛德仁崇"
COUNTY_SUFFIX = "阳原川河山源城水"
CITY_SUFFIX = "州原川阳"
TOWN_FIRST = "东西南北新红古王马杨李石沙柳"
TOWN_SECOND = "河川塬湾堡庄台沟岔峁"

TABLE_ORDER = [
    "regions", "users", "subsidy_types", "households", "watchlist_entries", "projects", "filings", "filing_list_stamps",
    "filing_entries",
    "filing_reviews", "filing_snapshots", "filing_snapshot_lines", "filing_entry_flags", "filing_entry_notes",
    "payment_batches", "payment_result_imports", "payments", "sms_opt_outs", "sms_broadcasts", "sms_messages",
    "mobile_sign_ins", "policies", "cases", "case_events", "case_counters", "audit_events",
    "entry_holds", "recoveries", "material_receipts", "material_pickups",
]


# --- values ---------------------------------------------------------------------------------------

def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def standard(j: int, quantity: Decimal) -> Decimal:
    """An entry's standard amount (subsidy.projects.amounts.entry_amount): rate × quantity, or for
    a material project its goods due at the unit price."""
    p = PROJECTS[j]
    if p[0] in GOODS:
        return money(money(Decimal(p[3]) * quantity) * GOODS[p[0]][2])
    return money(Decimal(p[3]) * quantity)


class IdNumbers:
    """Unique valid ID numbers without remembering any: the k-th number given for an issuing
    code takes slot (a·k + b) mod M of that code's (birth day × 1000 sequences) space, a
    permutation because a is prime to M; a and b come from the seed."""

    SPACE = BIRTH_DAYS * 1000

    def __init__(self, seed: int):
        from subsidy.demo import make_id_number

        self.seed = seed
        self.make = make_id_number
        self.state: dict[str, list[int]] = {}

    def next(self, code: str) -> str:
        st = self.state.get(code)
        if st is None:
            r = random.Random(f"{self.seed}:id:{code}")
            a = r.randrange(self.SPACE // 3, self.SPACE)
            while gcd(a, self.SPACE) != 1:
                a += 1
            st = self.state[code] = [a, r.randrange(self.SPACE), 0]
        a, b, k = st
        if k >= self.SPACE:
            raise RuntimeError(f"issuing code {code} has no ID numbers left")
        st[2] = k + 1
        day, seq3 = divmod((a * k + b) % self.SPACE, 1000)
        return self.make(code, BIRTH_FIRST + timedelta(days=day), seq3 >> 1, female=not seq3 & 1)


def working_day_adder():
    """Working days per chinese_calendar (it covers YEAR), as the cases area counts them."""
    import chinese_calendar

    cache: dict[date, bool] = {}

    def workday(d: date) -> bool:
        v = cache.get(d)
        if v is None:
            v = cache[d] = chinese_calendar.is_workday(d)
        return v

    def add(start: date, n: int) -> date:
        d, found = start, 0
        while found < n:
            d += timedelta(days=1)
            found += workday(d)
        return d

    def between(start: date, end: date) -> int:
        count, d = 0, start
        while d < end:
            d += timedelta(days=1)
            count += workday(d)
        return count

    return add, between


# --- the generator ----------------------------------------------------------------------------------

class Province:
    def __init__(self, loader: Loader, households: int, seed: int, big_filing: int, entries_per_household: float,
                 password_hash: str, progress, county_households: int = COUNTY_HOUSEHOLDS):
        from subsidy.demo import CITY, OTHER_COUNTIES, TOWNSHIPS, village_names

        self.L = loader
        self.seed = seed
        self.big_filing = big_filing
        self.progress = progress
        self.password_hash = password_hash
        self.ids = IdNumbers(seed)
        # Per-mu projects skip the 8 % of households without land.
        scale = entries_per_household / sum(p[4] * (0.92 if p[2] == "mu" else 1) for p in PROJECTS)
        self.shares = [min(0.98, p[4] * scale) for p in PROJECTS]
        n_counties = max(1, households // county_households)
        per, extra = divmod(households, n_counties)
        rng = random.Random(f"{seed}:regions")
        self.cities = self._cities(rng, n_counties)
        real = {code: (name, issuing, dict(towns)) for code, name, issuing, towns in OTHER_COUNTIES}
        county_names = {name for name, _, _ in real.values()}
        self.counties: list[dict] = []
        for c in range(n_counties):
            city = self.cities[c // COUNTIES_PER_CITY]
            if c == 0:
                code, name = DEMO_COUNTY, "彭阳县"
                towns = [(t, n, nv) for t, n, nv in TOWNSHIPS]
                vnames = village_names(sum(nv for _, _, nv in TOWNSHIPS), random.Random(640425))
                issuing = PENGYANG_ISSUING
            else:
                if city["code"] == CITY[0]:  # 固原市's other four counties, by their real codes and names
                    code = DEMO_CITY_COUNTIES[c]
                    name, issuing, real_towns = real[code]
                else:
                    code = f"{city['code']}{c % COUNTIES_PER_CITY + 1:02d}"
                    real_towns = {}
                    while True:
                        name = rng.choice(COUNTY_NAMES) + rng.choice(COUNTY_SUFFIX) + "县"
                        if name not in county_names or len(county_names) >= len(COUNTY_NAMES) * len(COUNTY_SUFFIX):
                            break
                    issuing = OTHER_ISSUING[(c - 1) % len(OTHER_ISSUING)]
                towns, used = [], set()
                for t_code, _, nv in TOWNSHIPS:
                    while True:
                        tn = rng.choice(TOWN_FIRST) + rng.choice(TOWN_SECOND) + ("镇" if t_code[6] == "1" else "乡")
                        if tn not in used:
                            break
                    used.add(tn)
                    t_new = code + t_code[6:]
                    towns.append((t_new, real_towns.get(t_new, tn), nv))
                vnames = village_names(sum(nv for _, _, nv in TOWNSHIPS), rng)
            county_names.add(name)
            villages, i = [], 0
            for t_code, _, nv in towns:
                for v in range(nv):
                    villages.append((f"{t_code}{201 + v}", vnames[i]))
                    i += 1
            county = {"index": c, "code": code, "name": name, "towns": towns, "villages": villages,
                      "households": per + (1 if c < extra else 0), "issuing": issuing, "city": city["code"]}
            city["counties"].append(county)
            self.counties.append(county)
        self.cross = CrossCounty(seed)
        self.types: dict[str, dict[int, int]] = {}  # city -> {project index: subsidy type id}
        self.next_id: Counter = Counter()
        self.users: dict[str, dict] = {}       # region code -> {role: (id, username, name)}
        self.audit_prev = None
        self.audit_rows: list = []
        self.case_numbers: Counter = Counter()
        self.big: dict | None = None
        self.farmers: list[dict] = []
        self.entries = 0
        self.filings = 0
        self.households = 0
        self.state_counts: Counter = Counter()

    @staticmethod
    def _cities(rng, n_counties: int) -> list[dict]:
        """固原市 (6404) first, then 6405, 6406, …, each of `COUNTIES_PER_CITY` counties (the last
        one of what is left), named at random."""
        from subsidy.demo import CITY

        n = -(-n_counties // COUNTIES_PER_CITY)
        if 4 + n - 1 > 99:
            raise ValueError(f"{n} cities do not fit in the two digits of a prefecture code")
        cities, names = [], {CITY[1]}
        for k in range(n):
            if k == 0:
                code, name = CITY
            else:
                code = f"64{4 + k:02d}"
                while True:
                    name = rng.choice(COUNTY_NAMES) + rng.choice(CITY_SUFFIX) + "市"
                    if name not in names or len(names) >= len(COUNTY_NAMES) * len(CITY_SUFFIX):
                        break
            names.add(name)
            cities.append({"code": code, "name": name, "counties": []})
        return cities

    def nid(self, table: str) -> int:
        self.next_id[table] += 1
        return self.next_id[table]

    # -- audit chain -----------------------------------------------------------------------------
    def audit(self, at: datetime, actor: tuple | None, action: str, object_type: str, object_id, region_code,
              detail: dict) -> None:
        from subsidy.audit.service import GENESIS, _digest, canonical_json

        prev = self.audit_prev or GENESIS
        actor_id, actor_label = (actor[0], actor[1]) if actor else (None, "system")
        object_id = None if object_id is None else str(object_id)
        detail_json = canonical_json(detail)
        h = _digest(prev, at, actor_id, actor_label, action, object_type, object_id, region_code, detail_json,
                    key=AUDIT_KEY.encode())
        self.audit_rows.append((self.nid("audit_events"), at, actor_id, actor_label, action, object_type, object_id,
                                region_code, detail_json, prev, h, True))
        self.audit_prev = h

    def flush_audit(self) -> None:
        self.L.load("audit_events", ["id", "at", "actor_id", "actor", "action", "object_type", "object_id",
                                     "region_code", "detail", "prev_hash", "hash", "keyed"], self.audit_rows)
        self.audit_rows = []

    # -- regions and staff -----------------------------------------------------------------------
    def regions_and_users(self) -> None:
        """The province, its cities and counties, with parent links; the staff: per city a city
        admin and a city supervisor (the first city admin as `flask users create` makes one, the
        rest by the city admin as accounts.MANAGES has it), per county an admin and a supervisor
        (by the city admin), a county reviewer, township reviewers and village clerks (by the
        county admin)."""
        from subsidy.demo import CITY, DEMO_USERS

        regions, users, created_by = [], [], []
        demo = {(role.value, region): (username, name) for username, name, role, region in DEMO_USERS}

        def user(role: str, region: str, username: str, name: str, phone=None, by=None):
            username, demo_name = demo.get((role, region), (username, name))
            name = demo_name or name  # the demo names some users after their region at load time
            uid = self.nid("users")
            users.append((uid, username, name, self.password_hash, role, region, phone, True, REGISTER_AT, None, 0))
            created_by.append(by)
            self.users.setdefault(region, {})[role] = (uid, username, name)
            return self.users[region][role]

        regions.append((PROVINCE_CODE, PROVINCE_NAME, "province", None, None, None))
        for k, city in enumerate(self.cities):
            code = city["code"]
            phone = "0954-2012345" if code == CITY[0] else f"09{50 + k % 50:02d}-2012345"
            regions.append((code, city["name"], "prefecture", PROVINCE_CODE, phone, f"【{city['name']}惠农】"))
            city_admin = user("city_admin", code, f"cityadmin{code}", f"{city['name']}管理员")
            user("city_supervisor", code, f"citysupervisor{code}", f"{city['name']}监督员", by=city_admin)
            for c in city["counties"]:
                code = c["code"]
                signature = "【彭阳县惠农】" if code == DEMO_COUNTY else f"【{c['name']}惠农】"
                regions.append((code, c["name"], "county", c["city"], f"0954-70{c['index'] % 100:02d}345", signature))
                admin = user("county_admin", code, f"admin{code}", f"{c['name']}管理员", by=city_admin)
                user("county_reviewer", code, f"county{code}", f"{c['name']}审核员", by=admin)
                user("supervisor", code, f"supervisor{code}", f"{c['name']}监督员", by=city_admin)
                for t_index, (t_code, t_name, _) in enumerate(c["towns"]):
                    regions.append((t_code, t_name, "township", code, f"0954-70{t_index + 10:02d}{t_index:03d}",
                                    None))
                    user("township_reviewer", t_code, f"t{t_code}", f"{t_name}审核员", by=admin)
                for v_code, v_name in c["villages"]:
                    regions.append((v_code, v_name, "village", v_code[:9], None, None))
                    user("village_clerk", v_code, f"v{v_code}", f"{v_name}经办员", f"139{int(v_code) % 10**8:08d}",
                         by=admin)
                if code == DEMO_COUNTY and self.big_filing:
                    regions.append((BIG_VILLAGE, "大户村", "village", BIG_VILLAGE[:9], None, None))
                    user("village_clerk", BIG_VILLAGE, f"v{BIG_VILLAGE}", "大户村经办员", "13900299299", by=admin)
        self.L.begin()
        self.L.load("regions", ["code", "name", "level", "parent_code", "phone", "sms_signature"], regions)
        self.L.load("users", ["id", "username", "name", "password_hash", "role", "region_code", "phone", "active",
                              "created_at", "last_login_at", "session_epoch"], users)
        for u, by in zip(users, created_by, strict=True):
            self.audit(REGISTER_AT, by, "user.create", "user", u[0], u[5], {"username": u[1], "role": u[4]})
        # Each city's catalogue: one type per project name, kept by its city admin.
        types = []
        for city in self.cities:
            admin = self.users[city["code"]]["city_admin"]
            for j, p in enumerate(PROJECTS):
                tid = self.nid("subsidy_types")
                types.append((tid, city["code"], TYPE_CODES[p[0]], p[0], p[2], REGISTER_AT, admin[0]))
                self.types.setdefault(city["code"], {})[j] = tid
                self.audit(REGISTER_AT, admin, "subsidy_type.create", "subsidy_type", tid, city["code"],
                           {"code": TYPE_CODES[p[0]], "name": p[0], "unit": p[2]})
        self.L.load("subsidy_types", ["id", "prefecture_code", "code", "name", "unit", "created_at", "created_by"],
                    types)
        self.flush_audit()
        self.L.commit()

    # -- one county --------------------------------------------------------------------------------
    def county(self, c: dict) -> None:
        rng = random.Random(f"{self.seed}:county:{c['code']}")
        code = c["code"]
        is_demo = code == DEMO_COUNTY
        admin = self.users[code]["county_admin"]
        reviewer = self.users[code]["county_reviewer"]
        self.L.begin()

        # Households, spread over the villages unevenly.
        villages = list(c["villages"])
        weights = [rng.uniform(0.5, 1.5) for _ in villages]
        total_w = sum(weights)
        counts = [int(c["households"] * w / total_w) for w in weights]
        for i in range(c["households"] - sum(counts)):
            counts[i % len(counts)] += 1
        if is_demo and self.big_filing:
            villages.append((BIG_VILLAGE, "大户村"))
            counts.append(self.big_filing)
        from subsidy.demo import GIVEN, SURNAMES, make_phone

        hh: dict[int, tuple] = {}   # id -> (village, name, id_number, phone, account, members, land)
        by_village: dict[str, list[int]] = {}
        for (v_code, _), n in zip(villages, counts, strict=True):
            ids_here = by_village[v_code] = []
            last_account = None
            big = v_code == BIG_VILLAGE
            for _ in range(n):
                hid = self.nid("households")
                name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
                phone = None if rng.random() < 0.03 else make_phone(rng)
                account = "6231" + f"{rng.randrange(10**15):015d}"
                if last_account and rng.random() < 0.002:
                    account = last_account  # a shared 一卡通 account (risk check shared_account)
                last_account = account
                members = rng.randint(1, 7)
                land = ZERO if (rng.random() < 0.08 and not big) else Decimal(rng.randrange(100, 4000)).scaleb(-2)
                hh[hid] = (v_code, name, self.ids.next(c["issuing"]), phone, account, members, land)
                ids_here.append(hid)
        plans = self.cross.plant(c, hh, BIG_VILLAGE)
        self.households += len(hh)
        self.L.load("households", ["id", "region_code", "head_name", "id_number", "phone", "payout_account", "members",
                                   "land_area_mu", "created_at", "updated_at"],
                    ((hid, *h, REGISTER_AT, REGISTER_AT) for hid, h in hh.items()))
        for v_code, _ in villages:
            clerk = self.users[v_code]["village_clerk"]
            self.audit(REGISTER_AT, clerk, "household.import", "region", v_code, v_code,
                       {"created": len(by_village[v_code]), "updated": 0, "unchanged": 0})
        account_uses = Counter(h[4] for h in hh.values())

        # Watch list: a few heads of household (deceased, on the public payroll, …).
        watch = {}
        watch_rows = []
        categories = [("deceased", "已故", "民政局死亡名单"), ("public_payroll", "财政供养人员", "财政局工资名册"),
                      ("village_cadre", "村干部", "组织部村干部名册")]
        for hid, h in hh.items():
            if rng.random() < 0.0005:
                cat = rng.choice(categories)
                watch[hid] = cat
                watch_rows.append((self.nid("watchlist_entries"), code, h[2], h[1], cat[0], cat[2], REGISTER_AT,
                                   REGISTER_AT, admin[0]))
        self.L.load("watchlist_entries", ["id", "county_code", "id_number", "name", "category", "source", "created_at",
                                          "updated_at", "imported_by"], watch_rows)

        # Entries per (project, village).
        rates = [Decimal(p[3]) for p in PROJECTS]
        lists: dict[tuple[int, str], list] = defaultdict(list)  # (project index, village) -> [hid, qty, amount]
        for hid, h in hh.items():
            v_code, land, members = h[0], h[6], h[5]
            if v_code == BIG_VILLAGE:
                lists[(0, v_code)].append([hid, land, standard(0, land)])
                continue
            for j, p in enumerate(PROJECTS):
                if rng.random() >= self.shares[j]:
                    continue
                unit = p[2]
                if unit == "mu":
                    if land <= 0:
                        continue
                    qty = land
                    if rng.random() < 0.001:
                        qty = land + 2  # above the register (risk check quantity_above_land)
                elif unit == "head":
                    qty = Decimal(rng.randint(1, 8)).scaleb(0).quantize(CENT)
                elif unit == "person":
                    qty = Decimal(members).quantize(CENT)
                else:
                    qty = Decimal("1.00")
                amount = standard(j, qty)
                if rng.random() < 0.001:
                    amount += 50  # above rate × quantity (risk check amount_above_rate)
                lists[(j, v_code)].append([hid, qty, amount])

        self.cross.fit(plans, lists, hh)
        self.cross.keep_sources(c, hh, lists, plans)

        # Projects: budgets cover what is filed, with a margin.
        project_ids, budgets = [], Counter()
        for (j, _), rows in lists.items():
            budgets[j] += sum(r[2] for r in rows)
        project_rows = []
        for j, p in enumerate(PROJECTS):
            pid = self.nid("projects")
            project_ids.append(pid)
            budget = Decimal((int(budgets[j] * Decimal("1.25")) // 10_000 + 1) * 10_000).quantize(CENT)
            item, item_unit, price = GOODS.get(p[0], (None, None, None))
            project_rows.append((pid, code, p[0], YEAR, p[1], p[2], Decimal(p[3]), budget, 7, p[5], PROJECTS_AT,
                                 admin[0], item, item_unit, price, self.types[c["city"]][j]))
            self.audit(PROJECTS_AT, admin, "project.create", "project", pid, code,
                       {"name": p[0], "year": YEAR, "subsidy_type": TYPE_CODES[p[0]]})
        self.L.load("projects", ["id", "county_code", "name", "year", "category", "unit", "rate", "budget",
                                 "publicity_days", "fund_source", "created_at", "created_by", "item", "item_unit",
                                 "unit_price", "subsidy_type_id"], project_rows)

        # Filings, their paths through the workflow, and the entries.
        filings = []  # dicts
        forced = iter(STATES) if is_demo else iter(())
        for j in range(len(PROJECTS)):
            material = PROJECTS[j][1] == "material"
            for v_code, _ in villages:
                rows = lists.get((j, v_code))
                if not rows:
                    continue
                if v_code == BIG_VILLAGE:
                    state = "township_approved"
                else:
                    state = next(forced, None) if j == 0 else None
                    state = state or rng.choices(STATES, STATE_WEIGHTS)[0]
                filings.append(self._filing(rng, j, project_ids[j], v_code, state, rows, material))
        self.filings += len(filings)
        self.L.load("filings", ["id", "project_id", "region_code", "state", "version", "round", "list_changed",
                                "created_at", "created_by", "state_changed_at", "publicized_at", "publicity_ends_at",
                                "correction_of_round"],
                    ((f["id"], f["project_id"], f["village"], f["state"], f["version"], f["round"], False,
                      FILINGS_AT, f["clerk"][0], f["changed_at"], f["publicized_at"], f["publicity_ends_at"],
                      f["round"] if f["steps"] and f["steps"][-1][0] is REO else None)
                     for f in filings))
        # What the filings' insert trigger would have made (the triggers are set aside while loading).
        self.L.load("filing_list_stamps", ["filing_id", "stamp"], ((f["id"], secrets.token_hex(16)) for f in filings))
        n_entries = 0
        for f in filings:
            for r in f["rows"]:
                r.insert(0, self.nid("filing_entries"))  # [entry id, hid, qty, amount]
            n_entries += len(f["rows"])
        self.entries += n_entries
        self.L.load("filing_entries", ["id", "filing_id", "project_id", "household_id", "quantity", "amount",
                                       "created_at", "created_by", "updated_at"],
                    ((r[0], f["id"], f["project_id"], r[1], r[2], r[3], FILINGS_AT, f["clerk"][0], FILINGS_AT)
                     for f in filings for r in f["rows"]))

        self._reviews_snapshots_flags(rng, c, filings, hh, account_uses, watch, rates)
        paid_payments = self._payments(rng, c, filings, hh, project_ids, reviewer)
        cases = self._cases(rng, c, hh, by_village, filings)
        held = self._supervision(rng, c, filings, paid_payments)
        # Its own random stream: the goods leave every other table as it was before they existed.
        self._materials(random.Random(f"{self.seed}:materials:{code}"), c, filings, hh, held)
        self._sms(rng, c, filings, hh, paid_payments, cases)
        self._mobile_and_policies(rng, c, hh)
        self.flush_audit()
        self.L.commit()
        if is_demo:
            for f in filings:
                if f["state"] in ("county_approved", "paid") and len(self.farmers) < 20:
                    h = hh[f["rows"][0][1]]
                    if h[3] and all(x["id"] != f["rows"][0][1] for x in self.farmers):
                        self.farmers.append({"id": f["rows"][0][1], "id_number": h[2], "phone": h[3],
                                             "region_code": h[0]})

    def _filing(self, rng, j, pid, v_code, state, rows, material) -> dict:
        """A filing's path through the transition table, with a time for every step."""
        if state == "draft":
            # A few drafts are corrections (更正) of a list the county had approved.
            path = rng.choices([[], [PUB, WDR], [PUB, SUB, TRT], [PUB, SUB, TAP, CAP, REO]], [6, 2, 2, 1])[0]
        elif state == "publicizing":
            path = [PUB]
        elif state == "village_filed":
            path = [PUB, SUB] if rng.random() < 0.85 else [PUB, SUB, TAP, CRT]
        else:
            path = [PUB, SUB, TAP] if rng.random() < 0.95 else [PUB, SUB, TAP, CRT, TAP]
            if state in ("county_approved", "paid"):
                path = path + [CAP]
            if state == "paid":
                path = path + [PAY]
        # County-approved cash filings: partly paid in the settled batch, pending in the open
        # batch, or approved lately and waiting for a batch.
        pay_plan = None
        if state == "county_approved" and not material:
            pay_plan = rng.choices(["partial", "pending", "waiting"], [2, 4, 4])[0]
        late = (state == "county_approved" and pay_plan != "partial")
        big = v_code == BIG_VILLAGE
        t = BIG_FILING_FROM + timedelta(days=rng.uniform(0, 3)) if big else \
            PUBLICITY_FROM + timedelta(days=rng.uniform(0, 20))
        steps = []
        for step in path:
            if step is SUB:
                t += timedelta(days=7 + rng.uniform(1, 4))
            elif step is CAP and late:
                t = max(t, LATE_APPROVAL_FROM) + timedelta(days=rng.uniform(0, 20))
            elif step is PAY:
                t = BATCH_A_SETTLED
            elif step is not PUB:
                t += timedelta(days=rng.uniform(1, 6) if not big else rng.uniform(0.5, 2))
            steps.append((step, t))
        publicized = [s[1] for s in steps if s[0] is PUB]
        village_clerk = self.users[v_code]["village_clerk"]
        f = {"id": self.nid("filings"), "j": j, "project_id": pid, "village": v_code, "state": state, "rows": rows,
             "steps": steps, "version": 1 + len(steps), "round": 1 if publicized else 0,
             "changed_at": steps[-1][1] if steps else FILINGS_AT,
             "publicized_at": publicized[-1] if publicized else None,
             "publicity_ends_at": publicized[-1] + timedelta(days=7) if publicized else None,
             "clerk": village_clerk, "pay_plan": pay_plan, "material": material, "mismatch": None}
        self.state_counts[state] += 1
        if big:
            self.big = {"id": f["id"], "entries": len(rows), "village": v_code, "project_id": pid,
                        "township": v_code[:9], "version": f["version"]}
        return f

    def _actor(self, tier: str, v_code: str) -> tuple:
        if tier == "village":
            return self.users[v_code]["village_clerk"]
        if tier == "township":
            return self.users[v_code[:9]]["township_reviewer"]
        return self.users[v_code[:6]]["county_reviewer"]

    def _reviews_snapshots_flags(self, rng, c, filings, hh, account_uses, watch, rates) -> None:
        from subsidy.filings.snapshots import Line, digest_of

        reviews, snaps, flags, notes = [], [], [], []
        line_sets = []  # (snapshot id, lines)
        for f in filings:
            lines = [Line(r[1], hh[r[1]][1], hh[r[1]][2], r[2], r[3], hh[r[1]][4]) for r in f["rows"]]
            live = digest_of(lines)
            before = None  # the lines the county approved, when the paid list differs from them
            if f["state"] == "paid" and rng.random() < 0.01:
                k = next((i for i, ln in enumerate(lines) if ln.quantity > 1), None)
                if k is not None:
                    before = list(lines)
                    before[k] = Line(lines[k].household_id, lines[k].head_name, lines[k].id_number,
                                     lines[k].quantity + 1, lines[k].amount, lines[k].payout_account)
                    f["mismatch"] = lines[k].household_id
            approved = digest_of(before) if before else live
            version = 1
            state = "draft"
            for step, at in f["steps"]:
                action, tier, frm, to, stage = step
                version += 1
                actor = self._actor(tier, f["village"])
                comment = REASONS.get(action, "")
                reviews.append((self.nid("filing_reviews"), f["id"], tier, action, actor[0], actor[2], comment, at,
                                frm, to, version))
                detail = {"from_state": frm, "to_state": to, "version": version, "project_id": f["project_id"]}
                if comment:
                    detail["comment"] = comment
                if stage:
                    use_before = before is not None and stage != "paid"
                    d = approved if use_before else live
                    sid = self.nid("filing_snapshots")
                    snaps.append((sid, f["id"], 1, stage, d.digest, d.entry_count, d.total_amount, at, actor[0]))
                    line_sets.append((sid, before if use_before else lines))
                    detail["snapshot"] = {"stage": stage, "digest": d.digest, "entry_count": d.entry_count,
                                          "total_amount": d.total_amount}
                if step is CAP:
                    detail["sms_enqueued"] = len(f["rows"])
                    f["approved_at"] = at
                state = to
                self.audit(at, actor, f"filing.{action}", "filing", f["id"], f["village"], detail)
            assert state == f["state"], (state, f["state"])
            # Risk flags as risk.py finds them (entries are checked when added, and again at
            # publicity and each review); a township note on each once the township approved.
            checked_at = f["steps"][-1][1] if f["steps"] else FILINGS_AT
            noted = next((at for step, at in f["steps"] if step is TAP), None)
            township = self.users[f["village"][:9]]["township_reviewer"]
            rate = rates[f["j"]]
            mu = PROJECTS[f["j"]][2] == "mu"
            for eid, hid, qty, amount in f["rows"]:
                h = hh[hid]
                found = []
                if amount > standard(f["j"], qty):
                    found.append(("amount_above_rate", f"申报金额 {amount} 元，高于补贴标准×数量 = {rate}×{qty} = "
                                                       f"{standard(f['j'], qty)} 元"))
                if mu and qty > h[6]:
                    found.append(("quantity_above_land", f"申报 {qty} 亩，超过名册登记的耕地面积 {h[6]} 亩"))
                if account_uses[h[4]] > 1:
                    found.append(("shared_account",
                                  f"一卡通账号与本县另外 {account_uses[h[4]] - 1} 户相同，请核实是否代领"))
                if hid in watch:
                    found.append(("watch_list", f"户主在比对名单中：{watch[hid][1]}（来源：{watch[hid][2]}）"))
                if not h[3]:
                    found.append(("no_phone", "名册中没有手机号码，审定和发放短信无法送达"))
                for code_, text in found:
                    flags.append((self.nid("filing_entry_flags"), f["id"], eid, code_, text, checked_at))
                if found and noted is not None:
                    notes.append((self.nid("filing_entry_notes"), f["id"], eid, 1, "township", township[0], township[2],
                                  "已入户核实，情况属实，同意上报", noted))
        self.L.load("filing_reviews", ["id", "filing_id", "tier", "action", "actor_id", "actor_name", "comment", "at",
                                       "from_state", "to_state", "version"], reviews)
        self.L.load("filing_snapshots", ["id", "filing_id", "round", "stage", "digest", "entry_count", "total_amount",
                                         "taken_at", "taken_by"], snaps)
        self.L.load("filing_snapshot_lines", ["snapshot_id", "household_id", "head_name", "id_number", "quantity",
                                              "amount", "payout_account"],
                    ((sid, ln.household_id, ln.head_name, ln.id_number, ln.quantity, ln.amount, ln.payout_account)
                     for sid, lines in line_sets for ln in lines))
        self.L.load("filing_entry_flags", ["id", "filing_id", "entry_id", "code", "explanation", "created_at"], flags)
        self.L.load("filing_entry_notes", ["id", "filing_id", "entry_id", "round", "tier", "author_id", "author_name",
                                           "note", "created_at"], notes)

    def _payments(self, rng, c, filings, hh, project_ids, reviewer) -> list[tuple]:
        """Batches of each cash project; returns the paid payments (id, entry, household, amount,
        village, project index, paid at) for the SMS."""
        from subsidy.payments.ids import make_id

        code = c["code"]
        batches, imports, payments, paid = [], [], [], []
        by_project = defaultdict(list)
        for f in filings:
            if not f["material"] and (f["state"] == "paid" or f["pay_plan"] in ("partial", "pending")):
                by_project[f["j"]].append(f)
        for j, fs in sorted(by_project.items()):
            pid = project_ids[j]
            settled = [f for f in fs if f["state"] == "paid" or f["pay_plan"] == "partial"]
            pending = [f for f in fs if f["pay_plan"] == "pending"]
            reissues = []  # (failed payment id, entry row, filing)

            def make_batch(kind: str, items, created: datetime, settled_at: datetime | None, of_failed=None, *,
                           pid=pid, j=j, reissues=reissues):
                bid = self.nid("payment_batches")
                rows = sorted(items, key=lambda x: (x[1]["village"], x[0][0]))
                imp = self.nid("payment_result_imports") if settled_at else None
                n_paid = n_failed = 0
                total = ZERO
                for seq, (r, f, status) in enumerate(rows, start=1):
                    eid, hid, qty, amount = r
                    h = hh[hid]
                    pay_id = self.nid("payments")
                    failure = "账号不存在" if status == "failed" else None
                    result_at = settled_at if status in ("paid", "failed") else None
                    receipt = "confirmed" if status == "paid" and rng.random() < 0.02 else None
                    payments.append((pay_id, bid, seq, make_id(code, bid, seq), eid, f["id"], pid, hid, f["village"],
                                     h[1], h[2], h[4], amount, status,
                                     f"B{bid:07d}{seq:06d}" if status == "paid" else None, failure, result_at,
                                     imp if result_at else None, of_failed.get(eid) if of_failed else None,
                                     receipt, settled_at + timedelta(days=3) if receipt else None, created))
                    total += amount
                    if status == "paid":
                        n_paid += 1
                        paid.append((pay_id, eid, hid, amount, f["village"], j, settled_at))
                    elif status == "failed":
                        n_failed += 1
                        reissues.append((pay_id, r, f))
                batches.append((bid, code, pid, "settled" if settled_at else "open", kind == "reissue", len(rows),
                                total, {"first": "", "reissue": "失败重发", "open": ""}[kind], created, reviewer[0],
                                created + timedelta(hours=1), 1, settled_at, None, None))
                self.audit(created, reviewer, "payment.batch_create", "payment_batch", bid, code,
                           {"project_id": pid, "payments": len(rows), "total": total})
                if settled_at:
                    sha = hashlib.sha256(f"{self.seed}:{bid}".encode()).hexdigest()
                    imports.append((imp, bid, f"回盘_PC{bid:06d}.xlsx", sha, len(rows), False, n_paid, n_failed, 0, 0,
                                    "{}", settled_at, reviewer[0]))
                    self.audit(settled_at, reviewer, "payment.results_import", "payment_batch", bid, code,
                               {"paid": n_paid, "failed": n_failed, "rows": len(rows)})

            if settled:
                items = []
                for f in settled:
                    for r in f["rows"]:
                        if f["pay_plan"] == "partial":
                            status = "failed" if rng.random() < 0.05 else "paid"
                        else:
                            status = "failed_then_paid" if rng.random() < 0.003 else "paid"
                        items.append((r, f, status))
                first = [(r, f, "failed" if s == "failed_then_paid" else s) for r, f, s in items]
                again = {r[0] for r, f, s in items if s == "failed_then_paid"}
                make_batch("first", first, BATCH_A_AT, BATCH_A_SETTLED)
                redo = [(pay_id, r, f) for pay_id, r, f in reissues if r[0] in again]
                reissues.clear()
                if redo:
                    make_batch("reissue", [(r, f, "paid") for _, r, f in redo], BATCH_B_AT, BATCH_B_SETTLED,
                               of_failed={r[0]: pay_id for pay_id, r, f in redo})
            if pending:
                make_batch("open", [(r, f, "pending") for f in pending for r in f["rows"]], BATCH_C_AT, None)
        self.L.load("payment_batches", ["id", "county_code", "project_id", "status", "reissue", "payment_count",
                                        "total_amount", "note", "created_at", "created_by", "exported_at",
                                        "export_count", "settled_at", "cancelled_at", "cancel_reason"], batches)
        self.L.load("payment_result_imports", ["id", "batch_id", "filename", "sha256", "rows", "refused", "paid",
                                               "failed", "unchanged", "problems", "report", "imported_at",
                                               "imported_by"], imports)
        self.L.load("payments", ["id", "batch_id", "seq", "disbursement_id", "entry_id", "filing_id", "project_id",
                                 "household_id", "region_code", "head_name", "id_number", "payout_account", "amount",
                                 "status", "bank_ref", "failure_reason", "result_at", "result_import_id",
                                 "reissue_of_id", "receipt", "receipt_at", "created_at"], payments)
        return paid

    def _cases(self, rng, c, hh, by_village, filings) -> list[tuple]:
        """The report's 3,772 cases a county (3,542 inquiries, 2,936 completed; 230 complaints,
        196 completed), scaled to the county's households, and objections on publicized lists.
        Returns (case id, ref_no, village, household, phone, replied at) of the answered ones."""
        add_days, between = self.workdays
        from subsidy.common.timeutil import CHINA_TZ

        scale = c["households"] / COUNTY_HOUSEHOLDS
        plan = [("inquiry", max(12, round(3542 * scale)), 2936 / 3542, 3),
                ("complaint", max(6, round(230 * scale)), 196 / 230, 15),
                ("objection", max(4, round(40 * scale)), 0.85, 5)]
        village_codes = [v for v, _ in c["villages"]]
        publicized = [f for f in filings if f["round"] and f["village"] != BIG_VILLAGE]
        cases, events, answered = [], [], []
        prefix = {"inquiry": "ZX", "complaint": "TS", "objection": "YY"}
        for kind, count, done_share, days in plan:
            for _ in range(count):
                entry_id = household_id = None
                if kind == "objection":
                    f = rng.choice(publicized) if publicized else None
                    if f is None:
                        continue
                    eid, hid = rng.choice(f["rows"])[:2]
                    entry_id, v = eid, f["village"]
                    received = f["publicized_at"] + timedelta(days=rng.uniform(0.2, 6))
                    # An open objection holds its list in publicity (workflow guard no_open_objection).
                    done = f["state"] != "publicizing" or rng.random() < done_share
                else:
                    v = rng.choice(village_codes)
                    done = rng.random() < done_share
                    # Answered ones early enough to have been answered (and rated) by now.
                    received = utc(1, 5) + timedelta(days=rng.uniform(0, 288 if done else 320))
                    hid = rng.choice(by_village[v]) if rng.random() < 0.7 and by_village[v] else None
                household_id = hid
                phone = hh[hid][3] if hid else make_mobile(rng)
                name = hh[hid][1] if hid else "群众"
                region = v if kind != "complaint" or rng.random() < 0.9 else v[:9]
                assigned = region[:9] if len(region) == 12 else region[:6]
                state = "received"
                r = rng.random()
                if kind != "objection" and r < 0.01:
                    state = "rejected"
                elif done:
                    state = "closed" if rng.random() < 0.8 else "replied"
                elif r < 0.5:
                    state = "in_progress"
                day0 = received.astimezone(CHINA_TZ).date()
                due = datetime.combine(add_days(day0, days), datetime.max.time().replace(microsecond=0),
                                       tzinfo=CHINA_TZ).astimezone(UTC)
                cid = self.nid("cases")
                n = self.case_numbers[kind] = self.case_numbers[kind] + 1
                ref = f"{prefix[kind]}-{YEAR}-{n:06d}"
                handler = self.users[assigned].get("township_reviewer") or self.users[assigned]["county_reviewer"]
                accepted = replied = closed = rated = None
                reply_days = rating = None
                late = False
                evs = [("received", received, None, None, "received", assigned, f"受理，期限 {days} 个工作日")]
                if state in ("in_progress", "replied", "closed"):
                    accepted = received + timedelta(hours=rng.uniform(1, 30))
                    evs.append(("accepted", accepted, handler, "received", "in_progress", None, ""))
                if state in ("replied", "closed"):
                    replied = accepted + timedelta(days=rng.uniform(0.2, days * 1.6))
                    reply_days = between(day0, replied.astimezone(CHINA_TZ).date())
                    late = replied > due
                    evs.append(("replied", replied, handler, "in_progress", "replied", None, "已答复"))
                    answered.append((cid, ref, v, hid, phone, replied))
                if state == "closed":
                    closed = replied + timedelta(days=rng.uniform(0.5, 7))
                    if rng.random() < 0.7:
                        rating = rng.choices(["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied"],
                                             [50, 35, 10, 5])[0]
                        rated = closed
                        evs.append(("rated", closed, None, "replied", "closed", None, ""))
                    else:
                        evs.append(("closed", closed, None, "replied", "closed", None, "7 日未评价，自动归档"))
                if state == "rejected":
                    evs.append(("rejected", received + timedelta(hours=5), handler, "received", "rejected", None,
                                "重复提交"))
                escalated = None
                if state in ("received", "in_progress") and due < GENERATED_AT and rng.random() < 0.5:
                    escalated = assigned[:6] if len(assigned) == 9 else None
                    if escalated:
                        evs.append(("escalated", due + timedelta(hours=1), None, state, state, None, "超期督办"))
                subject = {"inquiry": "补贴政策咨询", "complaint": "反映补贴发放问题",
                           "objection": "对公示名单有异议"}[kind]
                cases.append((cid, ref, kind, rng.choice(["mobile", "phone", "sms", "visit"]), state,
                              1 + len(evs) - 1, region, household_id, entry_id, name, phone, subject,
                              f"{subject}，请核实答复。", assigned, escalated, 1 if escalated else 0,
                              due + timedelta(hours=1) if escalated else None, received, received, days, due,
                              accepted, replied, closed, "已按政策答复。" if replied else None, reply_days, late,
                              rating, None, rated, 0, "重复提交" if state == "rejected" else None, None))
                for kind_, at, actor, frm, to, to_region, note in evs:
                    events.append((self.nid("case_events"), cid, kind_, at, actor[0] if actor else None,
                                   actor[2] if actor else ("农户" if kind_ in ("received", "rated") else "系统"),
                                   note, frm, to, None, to_region))
                self.audit(received, None, "case.receive", "case", cid, region,
                           {"ref_no": ref, "kind": kind, "assigned": assigned, "due_at": due})
        self.L.load("cases", ["id", "ref_no", "kind", "channel", "state", "version", "region_code", "household_id",
                              "entry_id", "contact_name", "contact_phone", "subject", "body", "assigned_region_code",
                              "escalated_to_code", "escalation_count", "overdue_at", "received_at", "clock_from",
                              "due_days", "due_at", "accepted_at", "replied_at", "closed_at", "reply_body",
                              "reply_working_days", "completed_late", "rating", "rating_reason", "rated_at",
                              "reopen_count", "reject_reason", "created_by", "finding"],
                    # A replied complaint or objection carries its finding (属实 for about a third).
                    (row + (rng.choices(["substantiated", "partly_substantiated", "unsubstantiated"], [35, 15, 50])[0]
                            if row[2] != "inquiry" and row[22] is not None else None,) for row in cases))
        self.L.load("case_events", ["id", "case_id", "kind", "at", "actor_id", "actor_name", "note", "from_state",
                                    "to_state", "from_region_code", "to_region_code"], events)
        return answered

    def _supervision(self, rng, c, filings, paid) -> set[int]:
        """What supervision did about it: about 0.3% of the entries of county-approved lists held
        (止付), about 0.2% of the paid payments to recover, some of it repaid."""
        reviewer = self.users[c["code"]]["county_reviewer"]
        holds = []
        for f in filings:
            if f["state"] != "county_approved":
                continue
            for r in f["rows"]:
                if rng.random() < 0.003:
                    holds.append((self.nid("entry_holds"), r[0], f["id"], f["village"], "held", "群众举报，正在核查",
                                  FILINGS_AT + timedelta(days=40), reviewer[0]))
        self.L.load("entry_holds", ["id", "entry_id", "filing_id", "region_code", "status", "reason", "held_at",
                                    "held_by"], holds)
        held = {h[1] for h in holds}
        filing_of = {r[0]: f["id"] for f in filings for r in f["rows"]}
        recoveries = []
        for _pay, eid, hid, amount, village, _j, settled_at in paid:
            if rng.random() >= 0.002:
                continue
            back = rng.choice([Decimal("0.00"), money(amount / 2), amount])
            recoveries.append((self.nid("recoveries"), c["code"], village, hid, eid, filing_of.get(eid), amount, back,
                               "recovered" if back == amount else "open", "核查发现多报，应予追回", "manual",
                               (settled_at or FILINGS_AT) + timedelta(days=30), reviewer[0]))
        self.L.load("recoveries", ["id", "county_code", "region_code", "household_id", "entry_id", "filing_id",
                                   "amount_due", "amount_recovered", "state", "reason", "source", "created_at",
                                   "created_by"], recoveries)
        return held

    def _materials(self, rng, c, filings, hh, held: set[int]) -> None:
        """实物: pickups of the material lists the county approved (module docstring), and the
        deliveries into each township's store that cover them with a little to spare."""
        pickups, out = [], Counter()  # (project, township) -> handed out
        for f in filings:
            if not f["material"] or f["state"] not in ("county_approved", "paid"):
                continue
            p = PROJECTS[f["j"]]
            rate, (item, item_unit, _price) = Decimal(p[3]), GOODS[p[0]]
            clerk, township = f["clerk"], f["village"][:9]
            start = f["approved_at"]
            end = dict(f["steps"]).get(PAY, GENERATED_AT)  # a paid list was complete when it was paid
            for eid, hid, qty, _amount in f["rows"]:
                due = money(rate * qty)
                if due <= 0 or eid in held:
                    continue
                if f["state"] == "paid":
                    plan = "done"
                else:
                    plan = rng.choices(["done", "partly", "waiting"], [5, 2, 3])[0]
                if plan == "waiting":
                    continue
                parts = [due] if plan == "done" and (due < 1 or rng.random() < 0.8) else \
                    [money(due * Decimal(rng.randint(20, 80)) / 100)]
                if plan == "done" and len(parts) == 1 and parts[0] != due:
                    parts.append(due - parts[0])
                parts = [q for q in parts if q > 0]
                for q in parts:
                    at = start + (end - start) * rng.uniform(0.05, 0.95)
                    proxy = rng.random() < 0.1
                    pid = self.nid("material_pickups")
                    pickups.append((pid, eid, f["id"], f["project_id"], township, f["village"], q,
                                    (at + timedelta(hours=8)).date(), "proxy" if proxy else "self",
                                    "张某" if proxy else None, "子女" if proxy else None, clerk[0], at))
                    out[(f["project_id"], township)] += q
                    self.audit(at, clerk, "material.pickup", "filing", f["id"], f["village"],
                               {"entry_id": eid, "household_id": hid, "pickup_id": pid, "quantity": str(q),
                                "item": item, "item_unit": item_unit, "receiver": "proxy" if proxy else "self"})
        receipts = []
        project_of = {f["project_id"]: f["j"] for f in filings}
        for (project_id, township), handed in sorted(out.items()):
            item, item_unit, _price = GOODS[PROJECTS[project_of[project_id]][0]]
            # Delivered before the first list was approved, so the store was never short; a
            # second, smaller delivery is what is left on hand.
            spare = money(handed * Decimal(rng.uniform(0.02, 0.15)))
            reviewer = self.users[township]["township_reviewer"]
            for n, (q, at) in enumerate(((handed, utc(3, 25)), (spare, utc(5, 6))), start=1):
                if q <= 0:
                    continue
                rid = self.nid("material_receipts")
                receipts.append((rid, project_id, township, q, (at + timedelta(hours=8)).date(), "县农资公司",
                                 f"RK-{township}-{n}", reviewer[0], at))
                self.audit(at, reviewer, "material.receipt", "project", project_id, township,
                           {"receipt_id": rid, "quantity": str(q), "item": item, "item_unit": item_unit})
        self.L.load("material_receipts", ["id", "project_id", "township_code", "quantity", "received_on", "supplier",
                                          "document_no", "recorded_by", "recorded_at"], receipts)
        self.L.load("material_pickups", ["id", "entry_id", "filing_id", "project_id", "township_code", "region_code",
                                         "quantity", "received_on", "receiver", "proxy_name", "proxy_relation",
                                         "recorded_by", "recorded_at"], pickups)

    def _sms(self, rng, c, filings, hh, paid_payments, answered) -> None:
        from subsidy.common.masking import account_tail
        from subsidy.notify.templates import render, segment_count

        code = c["code"]
        signature = "【彭阳县惠农】" if code == DEMO_COUNTY else f"【{c['name']}惠农】"
        project_names = [p[0] for p in PROJECTS]
        phones = [h[3] for h in hh.values() if h[3]]
        blocked = {p for p in phones if rng.random() < 0.003}
        if phones and code == DEMO_COUNTY:
            approved = next((hh[f["rows"][0][1]][3] for f in filings if f["state"] in ("county_approved", "paid")
                             and hh[f["rows"][0][1]][3]), None)
            if approved:
                blocked.add(approved)  # so the cancelled status is there at any size
        self.L.load("sms_opt_outs", ["phone", "source", "note", "created_at", "created_by"],
                    ((p, "staff", "农户要求退订", REGISTER_AT, self.users[code]["county_admin"][0])
                     for p in sorted(blocked)))
        forced = list(SMS_STATUSES[:5]) if code == DEMO_COUNTY else []
        segments: dict[tuple, int] = {}
        rows = []

        def message(key, template, context, phone, region, hid, eid, case_id, broadcast_id, created):
            body = render(template, signature, context)
            seg = segments.get((template, len(body)))
            if seg is None:
                seg = segments[(template, len(body))] = segment_count(body)
            mid = self.nid("sms_messages")
            status, attempts, calls, nxt, lease, lease_exp, sid, err, errmsg, sent, status_at = \
                sms_outcome(rng, mid, phone, phone in blocked, created, forced)
            rows.append((mid, key, template, body, seg, phone, region, hid, eid, case_id, broadcast_id, status,
                         attempts, calls, nxt, lease, lease_exp, sid, err, errmsg, created, sent, status_at))

        for f in filings:
            if f["state"] not in ("county_approved", "paid"):
                continue
            pname = project_names[f["j"]]
            goods = GOODS.get(pname)
            for eid, hid, qty, amount in f["rows"]:
                h = hh[hid]
                if goods:  # a material list's households are told their goods, never money
                    template, context = "filing_approved_material", {
                        "name": h[1], "project": pname, "item": goods[0], "item_unit": goods[1],
                        "due": str(money(Decimal(PROJECTS[f["j"]][3]) * qty))}
                else:
                    template, context = "filing_approved", {"name": h[1], "project": pname, "amount": str(amount)}
                message(f"filing_approved:{f['id']}:{eid}", template, context, h[3], f["village"], hid, eid, None,
                        None, f["approved_at"])
        for pay_id, eid, hid, amount, village, j, at in paid_payments:
            h = hh[hid]
            local = at + timedelta(hours=8)
            message(f"payment_paid:{pay_id}", "payment_paid",
                    {"name": h[1], "project": project_names[j], "amount": str(amount),
                     "date": f"{local.month}月{local.day}日", "tail": account_tail(h[4])},
                    h[3], village, hid, eid, None, None, at)
        for cid, ref, village, hid, phone, at in answered:
            message(f"case_replied:{cid}:1", "case_replied", {"ref_no": ref}, phone, village, hid, None, cid, None, at)
        # One broadcast to the first township's households.
        township = c["towns"][0][0]
        bid = self.nid("sms_broadcasts")
        text = "【通知】本年度耕地地力保护补贴已发放，请农户注意查收一卡通。"
        targets = [(hid, h) for hid, h in hh.items() if h[0].startswith(township) and h[3]]
        for hid, h in targets:
            message(f"broadcast:{bid}:{hid}", "broadcast", {"body": text}, h[3], h[0], hid, None, None, bid,
                    utc(9, 1))
        self.L.load("sms_broadcasts", ["id", "region_code", "body", "text", "segments_each", "messages", "created_by",
                                       "created_at"],
                    [(bid, township, text, signature + text, segment_count(signature + text), len(targets),
                      self.users[code]["county_admin"][0], utc(9, 1))])
        self.L.load("sms_messages", ["id", "key", "template", "body", "segments", "to_phone", "region_code",
                                     "household_id", "entry_id", "case_id", "broadcast_id", "status", "attempts",
                                     "provider_calls", "next_attempt_at", "lease_owner", "lease_expires_at",
                                     "provider_sid", "error_code", "error_message", "created_at", "sent_at",
                                     "status_at"], rows)

    def _mobile_and_policies(self, rng, c, hh) -> None:
        code = c["code"]
        admin = self.users[code]["county_admin"]
        signins = []
        for hid, h in hh.items():
            if h[3] and rng.random() < 0.6:
                first = utc(3, 1) + timedelta(days=rng.uniform(0, 250))
                signins.append((hid, first, first + timedelta(days=rng.uniform(0, 20)), rng.randint(1, 20)))
        self.L.load("mobile_sign_ins", ["household_id", "first_signed_in_at", "last_signed_in_at", "sign_ins"],
                    signins)
        categories = ["planting", "livestock", "machinery", "insurance", "social", "housing", "revitalization", "other"]
        towns = [t[0] for t in c["towns"]]
        villages = [v for v, _ in c["villages"]]
        policies = []
        for i in range(53):
            pid = self.nid("policies")
            status = "published" if i % 10 < 8 else ("draft" if i % 10 == 8 else "withdrawn")
            region = code if i % 3 else (rng.choice(towns) if i % 2 else rng.choice(villages))
            created = utc(1, 15) + timedelta(days=rng.uniform(0, 280))
            published = created + timedelta(days=1) if status != "draft" else None
            withdrawn = published + timedelta(days=30) if status == "withdrawn" else None
            policies.append((pid, code, region, f"{YEAR}年惠民政策第{i + 1}号", "补贴对象、标准和办理流程见正文。\n\n"
                             "**补贴标准**按项目执行，资金通过一卡通发放到户。", "**政策解读：**详见正文。",
                             categories[i % len(categories)], date(YEAR, 1, 1), None, status, created, admin[0],
                             withdrawn or published or created, published, admin[0] if published else None,
                             withdrawn, admin[0] if withdrawn else None, "政策已调整" if withdrawn else None))
        self.L.load("policies", ["id", "county_code", "region_code", "title", "body", "interpretation", "category",
                                 "effective_from", "effective_to", "status", "created_at", "created_by", "updated_at",
                                 "published_at", "published_by", "withdrawn_at", "withdrawn_by", "withdrawn_reason"],
                    policies)

    def finish(self, counts_note: dict) -> None:
        """Case counters (so the next case takes the next number) and the closing audit event."""
        self.L.begin()
        self.L.load("case_counters", ["kind", "year", "last"],
                    [(kind, YEAR, n) for kind, n in sorted(self.case_numbers.items())])
        self.audit(GENERATED_AT, None, "bench.generate", "region", DEMO_COUNTY, None, counts_note)
        self.flush_audit()
        self.L.commit()
        self.L.drain()


def cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


def make_mobile(rng) -> str:
    from subsidy.demo import make_phone

    return make_phone(rng)


def sms_outcome(rng, mid: int, phone, blocked: bool, created: datetime, forced: list):
    """(status, attempts, provider_calls, next_attempt_at, lease_owner, lease_expires_at,
    provider_sid, error_code, error_message, sent_at, status_at) as the outbox and worker leave them."""
    if phone is None:
        return "failed", 0, 0, created, None, None, None, "no_phone", "无手机号码，未发送", None, created
    if blocked:
        return "cancelled", 0, 0, created, None, None, None, "opted_out", "该号码已退订短信，未发送", None, created
    if forced:
        status = forced.pop(0)
    else:
        r = rng.random()
        status = ("delivered" if r < 0.93 else "undelivered" if r < 0.95 else "sent" if r < 0.97
                  else "failed" if r < 0.98 else "queued" if r < 0.99 else "sending")
    sid = f"SM{mid:032x}"
    sent = created + timedelta(seconds=5)
    if status == "queued":  # a retry after a timeout, waiting for its turn
        return ("queued", 1, 1, created + timedelta(minutes=1), None, None, None, "timeout", "网关超时，稍后重试",
                None, None)
    if status == "sending":  # claimed by a worker that went away; its lease has run out
        return ("sending", 1, 0, created, "bench-worker", created + timedelta(minutes=2), None, None, None, None,
                None)
    if status == "sent":
        return "sent", 1, 1, created, None, None, sid, None, None, sent, sent
    if status == "delivered":
        return "delivered", 1, 1, created, None, None, sid, None, None, sent, sent + timedelta(seconds=20)
    if status == "undelivered":
        return ("undelivered", 1, 1, created, None, None, sid, "30003", "Unreachable destination handset", sent,
                sent + timedelta(minutes=5))
    return "failed", 1, 1, created, None, None, None, "21211", "Invalid 'To' Phone Number", None, sent


def table_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in TABLE_ORDER}


def migrate(url: str) -> None:
    """The schema through the migrations, as the app builds it."""
    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.extensions import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY, "TESTING": True})
    with app.app_context():
        upgrade()
        db.session.commit()
        db.engine.dispose()


def generate(url_or_engine, households: int = DEFAULT_HOUSEHOLDS, seed: int = DEFAULT_SEED, big_filing: int = 0,
             *, entries_per_household: float = ENTRIES_PER_HOUSEHOLD, county_households: int = COUNTY_HOUSEHOLDS,
             reset: bool = False, progress=print) -> dict:
    """Build the schema if missing, then fill an empty database with a province (module doc)."""
    from werkzeug.security import generate_password_hash

    from subsidy.common.database import reset_postgres_schema
    from subsidy.demo import DEMO_PASSWORD

    progress = progress or (lambda *a, **k: None)
    own = isinstance(url_or_engine, str)
    if own:
        url = url_or_engine
        if reset:
            reset_postgres_schema(url)
        import subsidy.common.database  # noqa: F401  (the app's SQLite pragmas on every connection)

        engine = sa.create_engine(url)
    else:
        engine = url_or_engine
        url = engine.url.render_as_string(hide_password=False)
    started = time.perf_counter()
    empty = is_empty(engine)
    if empty is None:
        migrate(url)
        empty = is_empty(engine)
    if not empty:
        raise RuntimeError(f"{engine.url!r} already holds regions, users or households: generate into an empty "
                           "database (or pass reset=True / --reset on a scratch PostgreSQL database)")
    loader = Loader(engine, progress)
    indexes = SecondaryIndexes(engine)
    province = Province(loader, households, seed, big_filing, entries_per_household,
                        generate_password_hash(DEMO_PASSWORD), progress, county_households)
    province.workdays = working_day_adder()
    n, n_cities = len(province.counties), len(province.cities)
    progress(f"generate: {households:,} households in {n} count{'y' if n == 1 else 'ies'} of ~{households // n:,} "
             f"({n_cities} cit{'y' if n_cities == 1 else 'ies'}: "
             f"{', '.join(c['code'] + ' ' + c['name'] for c in province.cities)}), "
             f"seed {seed}, big filing {big_filing or 'none'}, on {engine.dialect.name}", flush=True)
    try:
        indexes.drop()
        province.regions_and_users()
        for c in province.counties:
            t0, rows0 = time.perf_counter(), loader.rows
            province.county(c)
            took = time.perf_counter() - t0
            elapsed = time.perf_counter() - started
            left = elapsed / (c["index"] + 1) * (n - c["index"] - 1)
            progress(f"  county {c['index'] + 1}/{n} {c['code']} {c['name']}: {loader.rows - rows0:,} rows in "
                     f"{took:.1f} s ({(loader.rows - rows0) / took:,.0f} rows/s); {elapsed:.0f} s elapsed"
                     + (f", ~{left:.0f} s to go" if left else ""), flush=True)
            if c["index"] == 0 and n > 1:
                progress("    " + rates_line(loader), flush=True)
        province.finish({"households": province.households, "entries": province.entries, "seed": seed,
                         "big_filing": big_filing})
    finally:
        loader.close()
        t0 = time.perf_counter()
        indexes.rebuild()
        index_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    set_sequences(engine)
    analyze(engine)
    analyze_seconds = time.perf_counter() - t0
    counts = table_counts(engine)
    seconds = time.perf_counter() - started
    if own:
        engine.dispose()
    progress(f"  indexes rebuilt in {index_seconds:.1f} s; sequences and ANALYZE in {analyze_seconds:.1f} s",
             flush=True)
    progress(f"  {'table':<24} {'rows':>11} {'making s':>9} {'copying s':>9} {'rows/s':>10}")
    for table in TABLE_ORDER:
        rows, making, copying = loader.tables.get(table, [0, 0.0, 0.0])
        spent = making + copying
        progress(f"  {table:<24} {counts[table]:>11,} {making:>9.1f} {copying:>9.1f} "
                 f"{rows / spent if spent else 0:>10,.0f}")
    progress(f"generated {province.households:,} households, {province.entries:,} entries, {province.filings:,} "
             f"filings ({', '.join(f'{s} {province.state_counts[s]:,}' for s in STATES)}), "
             f"{sum(counts.values()):,} rows in {seconds:.0f} s", flush=True)
    return {
        "counts": counts, "households": province.households, "entries": province.entries,
        "filings": province.filings, "filing_states": dict(province.state_counts), "rows": sum(counts.values()),
        "seconds": seconds, "year": YEAR, "county": DEMO_COUNTY, "city": province.cities[0]["code"], "seed": seed,
        "cities": [{"code": c["code"], "name": c["name"], "counties": [x["code"] for x in c["counties"]]}
                   for c in province.cities],
        "users": {"admin": "admin", "county_reviewer": "county", "township_reviewer": "township",
                  "village_clerk": "village", "supervisor": "supervisor", "city_admin": "cityadmin",
                  "city_supervisor": "citysupervisor"},
        "password": DEMO_PASSWORD, "big_filing": province.big, "farmers": province.farmers,
        "cross_county": province.cross.summary(),
        "url": url if own else None,
    }


def rates_line(loader: Loader) -> str:
    return "rows/s: " + ", ".join(f"{t} {acc[0] / (acc[1] + acc[2]):,.0f}" for t, acc in loader.tables.items()
                                  if acc[1] + acc[2] > 0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=DEFAULT_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--big-filing", type=int, default=0, metavar="K",
                        help="one more village in 640425 with one K-entry filing awaiting the county")
    parser.add_argument("--entries-per-household", type=float, default=ENTRIES_PER_HOUSEHOLD)
    parser.add_argument("--county-households", type=int, default=COUNTY_HOUSEHOLDS, metavar="M",
                        help="households a county (default %(default)s): small runs of several counties and cities")
    args = parser.parse_args(argv)
    url = args.database_url
    if not url:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench_generate_')}/province.sqlite3"
        print(f"no --database-url: writing to {url}", flush=True)
    try:
        made = generate(url, args.households, args.seed, args.big_filing,
                        entries_per_household=args.entries_per_household, county_households=args.county_households,
                        reset=args.reset)
    except RuntimeError as exc:
        sys.exit(str(exc))
    made["cross_county"] = {k: v for k, v in made["cross_county"].items() if k != "pairs"}
    print(json.dumps({k: v for k, v in made.items() if k not in ("counts", "farmers")}, ensure_ascii=False,
                     default=str))


if __name__ == "__main__":
    main()

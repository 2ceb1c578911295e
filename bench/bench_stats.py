"""Benchmark: the `/stats/summary` and dashboard queries over a generated county (or province).

    python bench/bench_stats.py [--size county|province] [--database-url URL] [--reset] [--runs 5]

county:   1 county (640425, 12 townships, 105 villages), 50,000 households, 20 projects,
          ~500,000 entries (10 projects a household), payments, SMS and sign-ins to match.
province: 20 counties of that shape with 5 projects a household: 1,000,000 households,
          ~5,000,000 entries. Queries are timed for county 640425, the others' rows beside it.

Without a URL (or DATABASE_URL) a fresh SQLite file in a temporary directory is used. A
PostgreSQL database must be empty, or be named with --reset, which DROPS its public schema:
point it at a scratch database only. Rows are bulk-loaded (PostgreSQL: COPY through psycopg's
`cursor.copy`; SQLite: executemany), then ANALYZE; each query runs `--runs` times and the
median is printed.

What the data looks like (year 2017): per project and village one filing; 70 % of filings paid,
15 % county-approved (half their entries in a pending batch), 10 % under review (some entries
flagged), 5 % draft; review records for every transition; county and paid snapshots (1 % of the
paid ones differing); an approval SMS for every approved entry and a payment SMS for every paid
one; 90 % of households signed in on the mobile pages; 53 policies; the report's
3,772 cases a county.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_households import prepare_database  # noqa: E402

YEAR = 2017
T = datetime(2017, 6, 1, 2, 0, tzinfo=timezone.utc)
SIZES = {"county": dict(counties=1, households=50_000, projects=20, per_household=10),
         "province": dict(counties=20, households=50_000, projects=20, per_household=5)}


class Loader:
    """Bulk rows into a table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, engine):
        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.rows = 0

    def load(self, table: str, columns: list[str], rows) -> int:
        n = 0
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.pg:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
            else:
                cur.execute("BEGIN")  # the app's connections run in autocommit and BEGIN themselves
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                chunk = []
                for row in rows:
                    chunk.append(tuple(_sqlite(v) for v in row))
                    n += 1
                    if len(chunk) >= 20_000:
                        cur.executemany(sql, chunk)
                        chunk = []
                if chunk:
                    cur.executemany(sql, chunk)
                cur.execute("COMMIT")
            if self.pg:
                raw.commit()
        finally:
            raw.close()
        self.rows += n
        return n


def _sqlite(v):
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, Decimal):
        return float(v)
    return v


def generate(engine, size: dict, seed: int = 640425) -> dict:
    """Regions (the demo county and, for a province, synthetic ones), then every table."""
    from subsidy.demo import TOWNSHIPS

    rng = random.Random(seed)
    L = Loader(engine)
    counties = ["640425"] + [f"64{i:04d}" for i in range(1000, 1000 + size["counties"] - 1)]
    regions, villages = [], []
    for c in counties:
        regions.append((c, f"县{c}", "county", None))
        for t_code, t_name, nv in TOWNSHIPS:
            t = c + t_code[6:]
            regions.append((t, f"{t_name}", "township", c))
            for v in range(nv):
                regions.append((f"{t}{201 + v}", f"村{t}{201 + v}", "village", t))
                villages.append(f"{t}{201 + v}")
    L.load("regions", ["code", "name", "level", "parent_code"], iter(regions))

    n_households = size["households"] * size["counties"]
    per_county_villages = len(villages) // len(counties)

    def households():
        for i in range(n_households):
            county_index = i // size["households"]
            v = villages[county_index * per_county_villages + (i % per_county_villages)]
            yield (v, f"农户{i}", f"64{i:016d}", None if i % 33 == 0 else f"138{i:08d}", f"6231{i:015d}",
                   1 + i % 6, Decimal(300 + i % 3000) / 100, T, T)
    L.load("households", ["region_code", "head_name", "id_number", "phone", "payout_account", "members",
                          "land_area_mu", "created_at", "updated_at"], households())
    with engine.connect() as conn:
        hh_village = dict(conn.execute(sa.text("SELECT id, region_code FROM households ORDER BY id")).all())
    hh_ids = sorted(hh_village)

    projects = []
    pid = 0
    for c in counties:
        for p in range(size["projects"]):
            pid += 1
            projects.append((pid, c, f"项目{p + 1:02d}", YEAR, "cash", "household", Decimal("100.00"),
                             Decimal("900000000.00"), 7, "中央财政", T))
    L.load("projects", ["id", "county_code", "name", "year", "category", "unit", "rate", "budget", "publicity_days",
                        "fund_source", "created_at"], iter(projects))

    # Filings: one per (project, village) of its county, with a state.
    states = ["paid"] * 70 + ["county_approved"] * 15 + ["township_approved"] * 5 + ["village_filed"] * 5 + ["draft"] * 5
    filings, filing_of = [], {}
    fid = 0
    for pid_, c, *_ in projects:
        for v in villages:
            if not v.startswith(c):
                continue
            fid += 1
            state = rng.choice(states)
            filings.append((fid, pid_, v, state, 5, 1, False, T, T, T, T + timedelta(days=7)))
            filing_of[(pid_, v)] = (fid, state)
    L.load("filings", ["id", "project_id", "region_code", "state", "version", "round", "list_changed", "created_at",
                       "state_changed_at", "publicized_at", "publicity_ends_at"], iter(filings))
    order = ["draft", "publicizing", "village_filed", "township_approved", "county_approved", "paid"]
    actions = {"publicizing": ("village", "publicize"), "village_filed": ("village", "submit"),
               "township_approved": ("township", "approve"), "county_approved": ("county", "approve"),
               "paid": ("county", "pay")}

    def reviews():
        for f in filings:
            reached = order.index(f[3])
            if f[3] == "draft":
                continue
            for i in range(1, reached + 1):
                tier, action = actions[order[i]]
                yield (f[0], tier, action, "bench", "", T, order[i - 1], order[i], i + 1)
    L.load("filing_reviews", ["filing_id", "tier", "action", "actor_name", "comment", "at", "from_state", "to_state",
                              "version"], reviews())

    # Entries: each household in `per_household` of its county's projects.
    county_projects = {}
    for pid_, c, *_ in projects:
        county_projects.setdefault(c, []).append(pid_)
    entries = []  # (entry id, filing id, state, household, amount, village, project)
    eid = 0
    for hid in hh_ids:
        v = hh_village[hid]
        for pid_ in rng.sample(county_projects[v[:6]], size["per_household"]):
            eid += 1
            f, state = filing_of[(pid_, v)]
            entries.append((eid, f, state, hid, Decimal(100 + (hid % 50) * 10), v, pid_))
    L.load("filing_entries", ["id", "filing_id", "project_id", "household_id", "quantity", "amount", "created_at",
                              "updated_at"],
           ((e[0], e[1], e[6], e[3], Decimal(1), e[4], T, T) for e in entries))
    totals: dict[int, Decimal] = {}
    counts: dict[int, int] = {}
    for e in entries:
        totals[e[1]] = totals.get(e[1], Decimal("0")) + e[4]
        counts[e[1]] = counts.get(e[1], 0) + 1
    def snaps():
        sid = 0
        for f in filings:
            if f[3] in ("county_approved", "paid"):
                sid += 1
                yield (sid, f[0], 1, "county", f"{f[0]:064d}", counts.get(f[0], 0), totals.get(f[0], Decimal("0")), T)
            if f[3] == "paid":
                sid += 1
                digest = f"{f[0]:064d}" if rng.random() > 0.01 else f"{f[0] + 1:064x}".rjust(64, "f")
                yield (sid, f[0], 1, "paid", digest, counts.get(f[0], 0), totals.get(f[0], Decimal("0")), T)
    L.load("filing_snapshots", ["id", "filing_id", "round", "stage", "digest", "entry_count", "total_amount",
                                "taken_at"], snaps())

    L.load("filing_entry_flags", ["filing_id", "entry_id", "code", "explanation", "created_at"],
           ((e[1], e[0], "no_phone", "无手机号码", T) for e in entries
            if e[2] in ("village_filed", "township_approved") and e[3] % 33 == 0))

    # Payments: one batch per project; paid filings all paid, county-approved half pending.
    L.load("payment_batches", ["id", "county_code", "project_id", "status", "reissue", "payment_count", "total_amount",
                               "note", "created_at", "export_count"],
           ((p[0], p[1], p[0], "open", False, 0, Decimal("0"), "", T, 0) for p in projects))
    from subsidy.payments.ids import make_id

    seqs: dict[int, int] = {}

    def payments():
        for e in entries:
            if e[2] == "paid" or (e[2] == "county_approved" and e[0] % 2 == 0):
                seqs[e[6]] = seqs.get(e[6], 0) + 1
                status = "paid" if e[2] == "paid" else "pending"
                yield (e[6], seqs[e[6]], make_id(e[5][:6], e[6], seqs[e[6]]), e[0], e[1], e[6], e[3], e[5],
                       f"农户{e[3]}", f"64{e[3]:016d}", f"6231{e[3]:015d}", e[4], status,
                       T + timedelta(days=30) if status == "paid" else None, T)
    L.load("payments", ["batch_id", "seq", "disbursement_id", "entry_id", "filing_id", "project_id", "household_id",
                        "region_code", "head_name", "id_number", "payout_account", "amount", "status", "result_at",
                        "created_at"], payments())

    def messages():
        for e in entries:
            if e[2] not in ("county_approved", "paid"):
                continue
            phone = None if e[3] % 33 == 0 else f"138{e[3]:08d}"
            status = "failed" if phone is None else ("delivered" if e[3] % 50 else "undelivered")
            yield (f"filing_approved:{e[1]}:{e[0]}", "filing_approved", "审定通知", 1, phone, e[5], e[3], e[0],
                   status, 1, 1, T, T)
            if e[2] == "paid":
                yield (f"payment_paid:{e[0]}", "payment_paid", "到账通知", 1, phone, e[5], e[3], e[0], status, 1, 1,
                       T + timedelta(days=30), T)
    L.load("sms_messages", ["key", "template", "body", "segments", "to_phone", "region_code", "household_id",
                            "entry_id", "status", "attempts", "provider_calls", "next_attempt_at", "created_at"],
           messages())
    L.load("mobile_sign_ins", ["household_id", "first_signed_in_at", "last_signed_in_at", "sign_ins"],
           ((hid, T, T, 1) for hid in hh_ids if hid % 10))
    L.load("policies", ["county_code", "region_code", "title", "body", "interpretation", "category", "status",
                        "created_at", "updated_at", "published_at"],
           ((c, c, f"政策{i}", "正文", "", "other", "published", T, T, T) for c in counties for i in range(53)))
    cases = _load_cases(engine, L, villages, rng)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("regions", "households", "projects", "filings", "filing_reviews", "filing_snapshots",
                          "filing_entries", "filing_entry_flags", "payments", "sms_messages", "mobile_sign_ins",
                          "policies", "cases"):
                conn.exec_driver_sql(f"ANALYZE {table}")
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('payment_batches', 'id'), 100000)")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"households": n_households, "entries": len(entries), "filings": len(filings), "rows": L.rows,
            "cases": cases}


def _load_cases(engine, L: Loader, villages, rng) -> int:
    """The report's 3,772 cases per county: 3,542 inquiries (2,936 completed) and 230
    complaints (196 completed), received across 2017, each handled by its village's township."""
    plan = [("inquiry", "ZX", 2936, True), ("inquiry", "ZX", 606, False),
            ("complaint", "TS", 196, True), ("complaint", "TS", 34, False)]
    counties = sorted({v[:6] for v in villages})
    numbers = {"ZX": 0, "TS": 0}

    def rows():
        for c in counties:
            local = [v for v in villages if v.startswith(c)]
            for kind, prefix, count, done in plan:
                for _ in range(count):
                    numbers[prefix] += 1
                    v = rng.choice(local)
                    at = datetime(2017, rng.randint(1, 12), rng.randint(1, 28), 2, 0, tzinfo=timezone.utc)
                    due = at + timedelta(days=5 if kind == "inquiry" else 21)
                    replied = at + timedelta(days=rng.randint(1, 10)) if done else None
                    yield (f"{prefix}-2017-{numbers[prefix]:06d}", kind, "mobile", "closed" if done else "received", 1,
                           v, v[:9], "", "13900000000", "诉求", "内容", at, at, 3 if kind == "inquiry" else 15, due,
                           0, 0, bool(done and replied > due), replied, 3 if done else None,
                           "satisfied" if done and rng.random() < 0.9 else None)
    return L.load("cases", ["ref_no", "kind", "channel", "state", "version", "region_code", "assigned_region_code",
                            "contact_name", "contact_phone", "subject", "body", "received_at", "clock_from", "due_days",
                            "due_at", "escalation_count", "reopen_count", "completed_late", "replied_at",
                            "reply_working_days", "rating"], rows())


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="county")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_stats_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    prepare_database(url, args.reset)

    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import Role, User
    from subsidy.extensions import db
    from subsidy.stats import queries, service

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        db.session.commit()
        started = time.perf_counter()
        made = generate(db.engine, SIZES[args.size])
        load_seconds = time.perf_counter() - started
        supervisor = User(username="bench", name="监督员", password_hash="x", role=Role.supervisor, region_code="640425")
        db.session.add(supervisor)
        db.session.commit()
        code, y = "640425", YEAR
        timings: dict[str, float] = {}
        checks = {
            "villages (by township)": lambda: queries.villages(code, 9),
            "filings filed/reviewed/mismatches": lambda: queries.filings(code, y, 6),
            "  filings by township": lambda: queries.filings(code, y, 9),
            "approved amount": lambda: queries.approved_amounts(code, y, 6),
            "  approved by township": lambda: queries.approved_amounts(code, y, 9),
            "paid amount": lambda: queries.paid_amounts(code, y, 6),
            "  paid by township": lambda: queries.paid_amounts(code, y, 9),
            "open risk flags": lambda: queries.open_flags(code, y, 6),
            "budget per project": lambda: queries.projects(code, y),
            "policies_published": lambda: service._policies(code, y),
            "sms block": lambda: service._sms(code, y),
            "mobile block": lambda: service._mobile(code),
        }
        checks["cases blocks"] = lambda: service._cases(code, y)
        checks["cases by township (one GROUP BY)"] = lambda: service._cases_by_child(code, y, 9)
        checks["cases by month"] = lambda: queries.cases_by_month(code, y)
        # The whole page and the API, computed (refresh=True: never served from the kept summary).
        checks["/stats/summary (county)"] = lambda: service.summary(supervisor, code, y, refresh=True)
        checks["dashboard (county, 12 townships)"] = lambda: service.dashboard(supervisor, code, y, refresh=True)
        checks["dashboard (township 640425100)"] = lambda: service.dashboard(supervisor, "640425100", y, refresh=True)
        checks["dashboard served from kept summary"] = lambda: service.dashboard(supervisor, code, y)
        for label, fn in checks.items():
            timings[label] = median_time(fn, args.runs)
            db.session.rollback()
        summary = service.summary(supervisor, code, y)
        # The snapshot-based amounts equal the sums over entries and payments they stand for.
        direct_approved = db.session.execute(sa.text(
            "SELECT sum(e.amount) FROM filing_entries e JOIN filings f ON f.id = e.filing_id "
            "WHERE f.region_code BETWEEN '640425' AND '640425999999' AND f.state IN ('county_approved', 'paid')")).scalar()
        direct_paid = db.session.execute(sa.text(
            "SELECT sum(amount) FROM payments WHERE region_code BETWEEN '640425' AND '640425999999' "
            "AND status = 'paid'")).scalar()
        timings["(entries scan, for comparison)"] = median_time(lambda: db.session.execute(sa.text(
            "SELECT sum(e.amount) FROM filing_entries e JOIN filings f ON f.id = e.filing_id "
            "WHERE f.region_code BETWEEN '640425' AND '640425999999' AND f.state IN ('county_approved', 'paid')")).scalar(),
            args.runs)
        approved, paid = queries.approved_amounts(code, y, 6)[code], queries.paid_amounts(code, y, 6)[code]
        assert approved == Decimal(str(direct_approved)).quantize(Decimal("0.01")), (approved, direct_approved)
        assert paid == Decimal(str(direct_paid)).quantize(Decimal("0.01")), (paid, direct_paid)
        dialect = db.engine.dialect.name

    print(f"stats bench: {args.size} on {dialect}: {made['households']:,} households, {made['entries']:,} entries, "
          f"{made['filings']:,} filings, {made['rows']:,} rows loaded in {load_seconds:.0f} s; "
          f"median of {args.runs} runs, county 640425")
    for label, seconds in timings.items():
        print(f"  {label:<36} {seconds * 1000:9.1f} ms")
    if summary:
        print(f"  summary: filings {summary['filings']}, money {summary['money']}, sms rate "
              f"{summary['sms']['notification_rate']}, mobile {summary['mobile']['coverage_rate']}")


if __name__ == "__main__":
    main()

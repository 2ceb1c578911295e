"""Benchmark: file, publicize and approve one village's filing of 5,000 households.

    python bench/bench_filings.py                       # SQLite, a fresh temporary file per run
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python bench/bench_filings.py --fresh

Every step goes through the same service functions as the pages and commits, as a request
would. `--fresh` (required when DATABASE_URL is set) drops and recreates the schema (or removes
the SQLite file) before each run: use a database made for the benchmark. Prints the median time
of each step over `--repeat` runs and the county approval (审定) by part, and records the
county approval for the target table (target < 1 s); asserts nothing about speed."""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
import time_machine  # noqa: E402

from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, record  # noqa: E402
from subsidy.common.database import reset_postgres_schema  # noqa: E402

VILLAGE, TOWNSHIP, COUNTY = "640425100201", "640425100", "640425"
T0 = datetime(2017, 6, 1, 1, 0, tzinfo=UTC)


def _seed(n: int, no_phone_every: int) -> dict:
    from werkzeug.security import generate_password_hash

    from subsidy.accounts.models import Role, User
    from subsidy.demo import make_id_number
    from subsidy.extensions import db
    from subsidy.households.models import Household
    from subsidy.projects.models import Category, Project, Unit
    from subsidy.regions.models import Level, Region

    db.session.execute(sa.insert(Region), [
        {"code": COUNTY, "name": "彭阳县", "level": Level.county, "parent_code": None,
         "sms_signature": "【彭阳县惠农】"},
        {"code": TOWNSHIP, "name": "白阳镇", "level": Level.township, "parent_code": COUNTY, "phone": "0954-7011111"}])
    db.session.execute(sa.insert(Region), [{"code": VILLAGE, "name": "阳洼村", "level": Level.village,
                                            "parent_code": TOWNSHIP}])
    rows = []
    for i in range(n):
        birth = date(1950, 1, 1) + timedelta(days=i * 3)
        rows.append({"region_code": VILLAGE, "head_name": f"农户{i}",
                     "id_number": make_id_number(None, birth, i % 500, female=bool(i % 2)),
                     "phone": None if no_phone_every and i % no_phone_every == 0 else f"139{i:08d}",
                     "payout_account": f"6231{i:015d}", "members": 1 + i % 6,
                     "land_area_mu": Decimal(300 + i % 3000) / 100})
    db.session.execute(sa.insert(Household), rows)
    project = Project(county_code=COUNTY, name="耕地地力保护补贴", year=2017, category=Category.cash, unit=Unit.mu,
                      rate=Decimal("105.00"), budget=Decimal("100000000.00"), publicity_days=7, fund_source="中央财政")
    pw = generate_password_hash("bench-pass-1", method="pbkdf2:sha256:1000")
    users = {role: User(username=role.value, name=role.value, password_hash=pw, role=role, region_code=region)
             for role, region in ((Role.village_clerk, VILLAGE), (Role.township_reviewer, TOWNSHIP),
                                  (Role.county_reviewer, COUNTY))}
    db.session.add_all([project, *users.values()])
    db.session.commit()
    return {"project_id": project.id, "users": {r.value: u.id for r, u in users.items()}}


# The county approval's parts, timed by wrapping what `workflow.perform` calls (bench only).
# Filled during every step; emptied just before the county approval and read right after it.
PARTS: dict[str, float] = {}


def _timed_part(name: str, fn):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            PARTS[name] = PARTS.get(name, 0.0) + time.perf_counter() - start
    return wrapper


def _instrument() -> None:
    from subsidy.filings import risk, snapshots, workflow

    risk.run_checks = _timed_part("risk checks (rerun)", risk.run_checks)
    snapshots.take_snapshot = _timed_part("snapshot (INSERT … SELECT + digest)", snapshots.take_snapshot)
    workflow._check_against_publicized = _timed_part("compare with the publicized list",
                                                     workflow._check_against_publicized)
    workflow._record = _timed_part("review row + audit event", workflow._record)
    key = (workflow.S.township_approved, workflow.Action.approve)
    row = workflow.MACHINE.by_source[key]
    workflow.MACHINE.by_source[key] = dataclasses.replace(
        row, guards=tuple(_timed_part("budget guard (lock + sums)", g) for g in row.guards),
        effects=tuple(_timed_part("SMS owed (outbox INSERT … SELECT)", e) for e in row.effects))


COUNTY_APPROVAL = "county approve / 审定 (budget + snapshot + SMS)"
REOPEN = "reopen for correction / 发起更正"
CORRECTION_APPROVAL = "county approve a 10-line correction"


def run(url: str, n: int, no_phone_every: int) -> tuple[list[tuple[str, float, str]], dict[str, float]]:
    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.extensions import db
    from subsidy.filings import entries, service, workflow
    from subsidy.filings.models import Entry, EntryFlag
    from subsidy.notify.models import Message

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-only", "AUDIT_KEY": AUDIT_KEY, "TESTING": True,
                      "SMS_OUTBOX_FILE": os.path.join(tempfile.gettempdir(), "bench-sms.log")})
    results: list[tuple[str, float, str]] = []
    parts: dict[str, float] = {}

    def timed(label, fn, note=lambda r: ""):
        PARTS.clear()
        start = time.perf_counter()
        result = fn()
        done = time.perf_counter()
        db.session.commit()
        end = time.perf_counter()
        results.append((label, end - start, note(result)))
        if label == COUNTY_APPROVAL:
            parts.update(PARTS, commit=end - done)
        return result

    with app.app_context():
        upgrade()
        seed = _seed(n, no_phone_every)
        user = {k: db.session.get(User, v) for k, v in seed["users"].items()}
        clerk, township, county = user["village_clerk"], user["township_reviewer"], user["county_reviewer"]
        with time_machine.travel(T0, tick=True):
            filing = timed("start filing", lambda: service.start_filing(clerk, seed["project_id"]))
            fid = filing.id
            timed("add all households (INSERT … SELECT + risk checks)",
                  lambda: entries.add_all_households(clerk, fid), lambda r: f"{r['added']} entries, {r['flags']} flags")
            timed("publicize (risk checks + snapshot)",
                  lambda: workflow.perform(clerk, fid, "publicize", version=filing.version))
        with time_machine.travel(T0 + timedelta(days=7, minutes=1), tick=True):
            timed("submit / 村级备案 (checks + snapshot + compare)",
                  lambda: workflow.perform(clerk, fid, "submit", version=filing.version))
            flagged = db.session.scalars(sa.select(sa.distinct(EntryFlag.entry_id))
                                         .where(EntryFlag.filing_id == fid)).all()
            timed("township notes on flagged entries (one request each)",
                  lambda: [service.add_note(township, fid, e, "已核实") for e in flagged],
                  lambda r: f"{len(r)} notes")
            timed("township approve", lambda: workflow.perform(township, fid, "approve", version=filing.version))
            timed(COUNTY_APPROVAL, lambda: workflow.perform(county, fid, "approve", version=filing.version))
            owed = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
            results[-1] = (*results[-1][:2], f"{owed} SMS owed")
            timed("review page data (first page of entries, snapshots, diff)",
                  lambda: service.review_page(county, fid, page=1))
            timed("GET /filings/{id} data (all entries)", lambda: service.detail(county, fid),
                  lambda r: f"{len(r['lines'])} entries")
            timed("待我审核 queue (county)", lambda: service.review_queue(county))
        # 更正 of 10 lines: the county reopens the approved list, the village changes ten
        # entries, the correction is publicized, filed, reviewed and approved again.
        with time_machine.travel(T0 + timedelta(days=10), tick=True):
            timed(REOPEN, lambda: workflow.perform(county, fid, "reopen", version=filing.version,
                                                  reason="核查发现 10 户面积有误"))
            changed = db.session.scalars(sa.select(Entry.id).where(Entry.filing_id == fid).order_by(Entry.id)
                                         .limit(10)).all()
            timed("village changes 10 entries (one request each)",
                  lambda: [entries.update_entry(clerk, fid, e, "1.00", None) for e in changed])
            timed("publicize the correction", lambda: workflow.perform(clerk, fid, "publicize", version=filing.version))
        with time_machine.travel(T0 + timedelta(days=17, minutes=2), tick=True):
            timed("submit the correction", lambda: workflow.perform(clerk, fid, "submit", version=filing.version))
            flagged = db.session.scalars(sa.select(sa.distinct(EntryFlag.entry_id))
                                         .where(EntryFlag.filing_id == fid)).all()
            for who in (township, county):
                for e in flagged:
                    service.add_note(who, fid, e, "已核实")
            db.session.commit()
            timed("township approve the correction",
                  lambda: workflow.perform(township, fid, "approve", version=filing.version))
            timed(CORRECTION_APPROVAL, lambda: workflow.perform(county, fid, "approve", version=filing.version))
        db.session.remove()
        db.engine.dispose()
    return results, parts


def _fresh_sqlite(url: str) -> None:
    """A SQLite file named by DATABASE_URL is removed before each run (what --fresh means there)."""
    path = url.split(":///", 1)[1]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--no-phone-every", type=int, default=100, help="every Nth household has no phone (a flag)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the schema of DATABASE_URL first")
    parser.add_argument("--repeat", type=int, default=3, help="run N times, each on a fresh schema; print medians")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if server_url and not args.fresh:
        sys.exit("DATABASE_URL is set: pass --fresh to drop and recreate its schema (use a database made for this)")
    _instrument()
    runs, parts = [], []
    for _ in range(max(1, args.repeat)):
        url = server_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="bench-filings-"), "bench.sqlite3")
        if url.startswith("sqlite:///"):
            _fresh_sqlite(url)
        reset_postgres_schema(url)
        results, county_parts = run(url, args.households, args.no_phone_every)
        runs.append(results)
        parts.append(county_parts)
    dialect = url.split(":", 1)[0].split("+")[0]
    print(f"bench_filings: {args.households} households on {dialect}, median of {len(runs)} fresh run(s) "
          f"(min–max in brackets)")
    medians = {}
    for i, (label, _, note) in enumerate(runs[0]):
        times = [r[i][1] for r in runs]
        medians[label] = statistics.median(times)
        print(f"  {label:<56} {medians[label] * 1000:8.1f} ms  "
              f"[{min(times) * 1000:.0f}–{max(times) * 1000:.0f}]  {note}")
    county = medians[COUNTY_APPROVAL]
    part_medians = {name: statistics.median(p.get(name, 0.0) for p in parts) for name in parts[0]}
    part_medians["rest (claim, lookups, savepoint)"] = max(0.0, county - sum(part_medians.values()))
    print(f"  county approval, by part (medians; of {county * 1000:.0f} ms):")
    for name, seconds in sorted(part_medians.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<54} {seconds * 1000:8.1f} ms  {seconds / county:4.0%}")
    largest, largest_s = max(part_medians.items(), key=lambda kv: kv[1])
    judged = args.households >= 5000
    record(Figure(key="county_approval", label="county approval of a 5,000-entry filing", value=county, unit="s",
                  target="< 1 s", met=(county < 1.0) if judged else None, size=f"{args.households} entries",
                  note=f"median of {len(runs)}; largest part: {largest} {largest_s * 1000:.0f} ms"))
    for key, label in (("correction_reopen", REOPEN), ("correction_approval", CORRECTION_APPROVAL)):
        seconds = medians[label]
        record(Figure(key=key, label=f"{label}, 5,000-entry filing", value=seconds, unit="s", target="< 0.3 s",
                      met=(seconds < 0.3) if judged else None, size=f"{args.households} entries",
                      note=f"median of {len(runs)} on {dialect}"))


if __name__ == "__main__":
    main()

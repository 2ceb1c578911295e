"""Benchmark: 5,000 households of a village collect the goods of a material project.

    python bench/bench_pickups.py                       # SQLite, a fresh temporary file per run
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python bench/bench_pickups.py --fresh

One village's county-approved list of N households for each of three material projects (the
same households), loaded in bulk with a store big enough for all; then, each on its own list:

  (a) bare insert    N MaterialPickup rows, one INSERT each through the session's connection,
                     one transaction: the baseline
  (b) one by one     N pickups through `service.record_pickup`, each committed as its request
                     would be; the first and the last 1,000 are timed apart (a per-pickup cost
                     that grows with the pickups already made shows as a larger last 1,000)
  (c) .xlsx import   the signed list downloaded, filled in with openpyxl (not timed), then
                     `signed.import_signed_list(commit_rows=True)` and the commit; the preview
                     (the same file, nothing recorded) and the download are printed beside it

Each time is the median over `--repeat` fresh runs, printed in ms with its ratio to (a).
`--fresh` (required when DATABASE_URL is set) drops and recreates the schema before each run:
use a database made for the benchmark. Asserts nothing about speed."""
from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.bench_filings import _fresh_sqlite  # noqa: E402
from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, record  # noqa: E402
from subsidy.common.database import reset_postgres_schema  # noqa: E402

VILLAGE, TOWNSHIP, COUNTY = "640425100201", "640425100", "640425"
DAY = date(2017, 7, 1)
ITEMS = ("地膜", "有机肥", "种子")  # one project per measure: (a), (b), (c)


def _seed(n: int) -> dict:
    from werkzeug.security import generate_password_hash

    from subsidy.accounts.models import Role, User
    from subsidy.demo import make_id_number
    from subsidy.extensions import db
    from subsidy.filings.models import Entry, Filing, FilingState
    from subsidy.households.models import Household
    from subsidy.materials.models import MaterialReceipt
    from subsidy.projects.models import Category, Project, Unit
    from subsidy.regions.models import Level, Region

    db.session.execute(sa.insert(Region), [
        {"code": COUNTY, "name": "彭阳县", "level": Level.county, "parent_code": None,
         "sms_signature": "【彭阳县惠农】"},
        {"code": TOWNSHIP, "name": "白阳镇", "level": Level.township, "parent_code": COUNTY}])
    db.session.execute(sa.insert(Region), [{"code": VILLAGE, "name": "阳洼村", "level": Level.village,
                                            "parent_code": TOWNSHIP}])
    db.session.execute(sa.insert(Household), [
        {"region_code": VILLAGE, "head_name": f"农户{i}",
         "id_number": make_id_number(None, date(1950, 1, 1) + timedelta(days=i * 3), i % 500, female=bool(i % 2)),
         "phone": f"139{i:08d}", "payout_account": None, "members": 1 + i % 6, "land_area_mu": Decimal("5.00")}
        for i in range(n)])
    households = db.session.scalars(sa.select(Household.id).order_by(Household.id)).all()
    pw = generate_password_hash("bench-pass-1", method="pbkdf2:sha256:1000")
    clerk = User(username="village_clerk", name="村级经办员", password_hash=pw, role=Role.village_clerk,
                 region_code=VILLAGE)
    db.session.add(clerk)
    filings = {}
    for item in ITEMS:
        project = Project(county_code=COUNTY, name=f"{item}补贴", year=2017, category=Category.material,
                          unit=Unit.household, rate=Decimal("2.00"), budget=Decimal("0.00"), publicity_days=7,
                          fund_source="中央财政", item=item, item_unit="袋")
        db.session.add(project)
        db.session.flush()
        # County-approved as loaded: the review is bench_filings.py's business, not this one's.
        filing = Filing(project_id=project.id, region_code=VILLAGE, state=FilingState.county_approved, round=1)
        db.session.add(filing)
        db.session.flush()
        db.session.execute(sa.insert(Entry), [
            {"filing_id": filing.id, "project_id": project.id, "household_id": h, "quantity": Decimal("1.00"),
             "amount": Decimal("0.00")} for h in households])
        db.session.add(MaterialReceipt(project_id=project.id, township_code=TOWNSHIP, quantity=Decimal(2 * n + 10),
                                       received_on=DAY, supplier="某某农资公司", document_no="RK-1"))
        filings[item] = (project.id, filing.id)
    db.session.commit()
    return {"clerk": clerk.id, "filings": filings}


def _entries(filing_id: int) -> list[int]:
    from subsidy.extensions import db
    from subsidy.filings.models import Entry

    return db.session.scalars(sa.select(Entry.id).where(Entry.filing_id == filing_id).order_by(Entry.id)).all()


def _filled(clerk, filing_id: int) -> tuple[bytes, float]:
    """The signed list as downloaded (its time), every row filled in as picked up in full."""
    from openpyxl import load_workbook

    from subsidy.materials import signed

    start = time.perf_counter()
    book = signed.export_signed_list(clerk, filing_id)
    data = book.file.read()
    download = time.perf_counter() - start
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    for row in range(2, ws.max_row + 1):
        ws.cell(row=row, column=7, value=ws.cell(row=row, column=5).value)
        ws.cell(row=row, column=8, value=DAY.isoformat())
        if row % 10:
            ws.cell(row=row, column=9, value="本人")
        else:
            ws.cell(row=row, column=9, value="代领")
            ws.cell(row=row, column=10, value="李四")
            ws.cell(row=row, column=11, value="儿子")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), download


BARE, ONE_BY_ONE, IMPORT = "(a) bare insert loop", "(b) service.record_pickup, one by one", "(c) .xlsx import"
PREVIEW, DOWNLOAD = "    .xlsx preview (nothing recorded)", "    .xlsx download"
FIRST, LAST = "    (b) first 1,000", "    (b) last 1,000"


def run(url: str, n: int) -> dict[str, float]:
    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.extensions import db
    from subsidy.filings.models import Filing, FilingState
    from subsidy.materials import service, signed
    from subsidy.materials.models import MaterialPickup, Receiver

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-only", "AUDIT_KEY": AUDIT_KEY, "TESTING": True,
                      "SMS_OUTBOX_FILE": os.path.join(tempfile.gettempdir(), "bench-sms.log")})
    times: dict[str, float] = {}
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade()
        seed = _seed(n)
        clerk = db.session.get(User, seed["clerk"])
        clerk_id = clerk.id

        # (a) the baseline
        project_id, filing_id = seed["filings"][ITEMS[0]]
        ids = _entries(filing_id)
        table = MaterialPickup.__table__
        rows = [{"entry_id": e, "filing_id": filing_id, "project_id": project_id, "township_code": TOWNSHIP,
                 "region_code": VILLAGE, "quantity": Decimal("2.00"), "received_on": DAY, "receiver": Receiver.self,
                 "recorded_by": clerk_id} for e in ids]
        db.session.commit()
        start = time.perf_counter()
        conn = db.session.connection()
        statement = sa.insert(table)
        for row in rows:
            conn.execute(statement, row)
        db.session.commit()
        times[BARE] = time.perf_counter() - start

        # (b) one request per pickup
        _project_id, filing_id = seed["filings"][ITEMS[1]]
        ids = _entries(filing_id)
        db.session.commit()
        marks = []
        start = time.perf_counter()
        for i, entry_id in enumerate(ids):
            if i % 1000 == 0:
                marks.append(time.perf_counter())
            actor = db.session.get(User, clerk_id)  # a request loads its user
            service.record_pickup(actor, filing_id, entry_id, "2.00", DAY.isoformat(), "self")
            db.session.commit()
        end = time.perf_counter()
        marks.append(end)
        times[ONE_BY_ONE] = end - start
        times[FIRST], times[LAST] = marks[1] - marks[0], marks[-1] - marks[-2]
        assert db.session.get(Filing, filing_id).state == FilingState.paid

        # (c) the signed list
        _project_id, filing_id = seed["filings"][ITEMS[2]]
        data, times[DOWNLOAD] = _filled(db.session.get(User, clerk_id), filing_id)
        db.session.commit()
        start = time.perf_counter()
        preview = signed.import_signed_list(db.session.get(User, clerk_id), filing_id, io.BytesIO(data), "签收表.xlsx",
                                            commit_rows=False)
        db.session.rollback()
        times[PREVIEW] = time.perf_counter() - start
        assert preview.ok and preview.pickups == n, preview.errors[:3]
        start = time.perf_counter()
        result = signed.import_signed_list(db.session.get(User, clerk_id), filing_id, io.BytesIO(data), "签收表.xlsx",
                                           commit_rows=True)
        db.session.commit()
        times[IMPORT] = time.perf_counter() - start
        assert result.recorded and result.closed, result.errors[:3]
        db.session.remove()
        db.engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=5000)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the schema of DATABASE_URL first")
    parser.add_argument("--repeat", type=int, default=3, help="run N times, each on a fresh schema; print medians")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL")
    if server_url and not args.fresh:
        sys.exit("DATABASE_URL is set: pass --fresh to drop and recreate its schema (use a database made for this)")
    runs = []
    for _ in range(max(1, args.repeat)):
        url = server_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="bench-pickups-"), "bench.sqlite3")
        if url.startswith("sqlite:///"):
            _fresh_sqlite(url)
        reset_postgres_schema(url)
        runs.append(run(url, args.households))
    dialect = url.split(":", 1)[0].split("+")[0]
    n = args.households
    print(f"bench_pickups: {n} households on {dialect}, median of {len(runs)} fresh run(s) (min–max in brackets)")
    medians = {label: statistics.median(r[label] for r in runs) for label in runs[0]}
    base = medians[BARE]
    for label in (BARE, ONE_BY_ONE, FIRST, LAST, IMPORT, PREVIEW, DOWNLOAD):
        times = [r[label] for r in runs]
        ratio = "" if label in (FIRST, LAST) else f"  ×{medians[label] / base:6.1f} of (a)"
        print(f"  {label:<42} {medians[label] * 1000:9.1f} ms  [{min(times) * 1000:.0f}–{max(times) * 1000:.0f}]"
              f"{ratio}")
    if n >= 2000:
        growth = medians[LAST] / medians[FIRST]
        print(f"  (b) last 1,000 ÷ first 1,000: ×{growth:.2f} "
              f"({'grows with the pickups made: quadratic in all' if growth > 1.5 else 'flat: linear in all'})")
    record(Figure(key="pickups_import", label=f"signed list import of {n} pickups", value=round(medians[IMPORT], 3),
                  unit="s", target="", met=None, baseline=round(base, 3), ratio=round(medians[IMPORT] / base, 3),
                  size=f"{n} pickups", note=f"baseline: a bare insert loop; median of {len(runs)} on {dialect}"))


if __name__ == "__main__":
    main()

"""Benchmark: household import and export against bare openpyxl loops over the same rows.

    python bench/bench_households.py [N] [--database-url URL] [--reset]

Without a URL (or DATABASE_URL in the environment) a fresh SQLite file in a temporary
directory is used. A PostgreSQL database must be empty, or be named with --reset, which DROPS
its public schema: point it at a scratch database only.

It builds the schema through the migrations, loads the demo regions (no households), writes an
N-row .xlsx spread over the county's 105 villages, and times, as the county admin:
  bare read      openpyxl read-only, values_only, every row          (the floor for an import)
  import/create  N new households
  import/update  the same file with every phone changed              (N bulk updates + audit detail)
  import/same    the same file again                                 (nothing to write)
  bare write     openpyxl write-only, N rows                         (the floor for an export)
  export         the register in scope (N rows) through the service
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402

from subsidy.common.database import reset_postgres_schema  # noqa: E402
from subsidy.demo import make_id_number  # noqa: E402

HEADERS = ["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)", "村代码"]


def make_rows(n: int, villages: list[str], phone_prefix: str = "138") -> list[list]:
    base = date(1950, 1, 1)
    rows = []
    for i in range(n):
        id_number = make_id_number(None, base + timedelta(days=i // 1000), i % 500, female=bool(i // 500 % 2))
        rows.append([f"农户{i}", id_number, f"{phone_prefix}{i:08d}",
                     f"6231{i:015d}", 1 + i % 7, round(3 + (i % 400) / 10, 1), villages[i % len(villages)]])
    return rows


def to_xlsx(rows: list[list]) -> bytes:
    """The input file as Excel or WPS would save it: shared strings and a stored dimension
    (a write-only workbook has neither, and reads slower)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "农户名册"
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def timed(label: str, fn, results: dict):
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    return value


def prepare_database(url: str, reset: bool) -> None:
    if not url.startswith("postgresql"):
        return
    if reset:
        reset_postgres_schema(url)
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
    engine.dispose()
    if tables:
        sys.exit(f"{url} is not empty ({len(tables)} tables); use a scratch database and pass --reset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_households_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    prepare_database(url, args.reset)

    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.demo import load_demo
    from subsidy.extensions import db
    from subsidy.households import exporter, importer
    from subsidy.regions.models import Level, Region

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        load_demo(households_per_village=0)
        db.session.commit()
        villages = list(db.session.scalars(sa.select(Region.code).where(Region.level == Level.village)))
        admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()

        rows = make_rows(args.n, villages)
        created_file = to_xlsx(rows)
        updated_file = to_xlsx(make_rows(args.n, villages, phone_prefix="139"))
        t: dict[str, float] = {}

        def bare_read():
            wb = load_workbook(io.BytesIO(created_file), read_only=True, data_only=True)
            count = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
            wb.close()
            return count

        def run_import(data: bytes):
            result = importer.import_households(admin, io.BytesIO(data), "bench.xlsx")
            db.session.commit()
            assert result.ok, result.errors[:5]
            return result

        def bare_write():
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("x")
            ws.append(HEADERS)
            for r in rows:
                ws.append(r)
            out = tempfile.SpooledTemporaryFile(max_size=16 << 20)
            wb.save(out)
            return out

        def run_export():
            book = exporter.export_households(admin)
            db.session.commit()
            return book

        assert timed("bare read", bare_read, t) == args.n + 1
        r1 = timed("import/create", lambda: run_import(created_file), t)
        r2 = timed("import/update", lambda: run_import(updated_file), t)
        r3 = timed("import/same", lambda: run_import(updated_file), t)
        timed("bare write", bare_write, t)
        book = timed("export", run_export, t)
        assert (r1.created, r2.updated, r3.unchanged, book.count) == (args.n, args.n, args.n, args.n)
        dialect = db.engine.dialect.name

    print(f"households bench: N={args.n} rows, {dialect}, file {len(created_file) / 1e6:.2f} MB")
    floors = {"import/create": "bare read", "import/update": "bare read", "import/same": "bare read",
              "export": "bare write"}
    for label, seconds in t.items():
        ratio = f"  ×{seconds / t[floors[label]]:.1f} of {floors[label]}" if label in floors else ""
        print(f"  {label:<14} {seconds:7.3f} s  {args.n / seconds:9.0f} rows/s{ratio}")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

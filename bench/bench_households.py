"""Benchmark: household import and export against bare loops over the same rows.

    python bench/bench_households.py [N] [--runs R] [--database-url URL] [--reset] [--profile]

N defaults to 100,000 (the size of the targets). Without a URL (or DATABASE_URL in the
environment) a fresh SQLite file in a temporary directory is used. A PostgreSQL database must
be empty, or be named with --reset, which DROPS its public schema: point it at a scratch
database only.

It builds the schema through the migrations, loads the demo regions (no households), writes
N-row .xlsx files spread over the county's 105 villages (text in the shared-strings table, as
Excel and WPS save it), and times, as the county admin, R runs of each pair below back to back
(the machine is shared and noisy: each ratio is the median of the per-run ratios, each time the
median of its runs; the ratio of this process's CPU time is printed beside it, steadier on
SQLite, where all the work is in this process):

  bare read      openpyxl read-only, values_only, every row: the reader the import uses
  import/create  N new households into an empty register           ÷ bare read  (target ≤ 1.5)
  import/update  the other file: every phone changed (N updates)    ÷ bare read
  import/same    the file the register already holds (no writes)    ÷ bare read
  raw insert     the same N household rows by the driver's own `executemany` (sqlite3 or psycopg
                 cursor, one transaction, values already in the driver's types)
  import writes  the write phase of import/create: `importer._write` (inserts, audit event,
                 flush) and the commit, timed apart from the reading and checking that come
                 before it; rows/s ÷ raw insert rows/s                        (target ≥ 0.4)
                 (the import itself inserts by executemany on SQLite, by COPY on PostgreSQL)
  bare write     openpyxl write-only, the export's own rows (fetched beforehand), saved
  export         the register in scope (N rows) through the service  ÷ bare write (target ≤ 2)

Peak memory of an import is measured in a fresh subprocess that runs only that import (create,
then update) and reports its own peak resident set (Linux VmHWM): that is the peak a web worker
would reach, C allocations included (expat, zlib, the driver), where tracemalloc would see only
Python's own and slow the import down; this process's RSS would also count the generated rows
and files (and a child's ru_maxrss starts from its parent's at the fork).
`--profile` prints a cProfile of one create import and one export.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from openpyxl import Workbook, load_workbook  # noqa: E402

from bench.generate import AUDIT_KEY  # noqa: E402
from bench.report import Figure, at_least, at_most, record  # noqa: E402
from subsidy.common.database import reset_postgres_schema  # noqa: E402
from subsidy.demo import make_id_number  # noqa: E402

HEADERS = ["户主姓名", "身份证号", "手机号码", "一卡通账号", "家庭人口", "耕地面积(亩)", "村代码"]
TARGET_SIZE = 100_000  # the size the targets are stated for; smaller runs are not judged
COLUMNS = ("region_code", "head_name", "id_number", "phone", "payout_account", "members", "land_area_mu",
           "created_at", "updated_at")


def make_rows(n: int, villages: list[str], phone_prefix: str = "138") -> list[list]:
    base = date(1950, 1, 1)
    rows = []
    for i in range(n):
        id_number = make_id_number(None, base + timedelta(days=i // 1000), i % 500, female=bool(i // 500 % 2))
        rows.append([f"农户{i}", id_number, f"{phone_prefix}{i:08d}",
                     f"6231{i:015d}", 1 + i % 7, round(3 + (i % 400) / 10, 1), villages[i % len(villages)]])
    return rows


def to_xlsx(rows: list[list]) -> bytes:
    """The input file as Excel or WPS would save it: text in the shared-strings table and a
    stored dimension. openpyxl itself writes text inline, which it reads back differently
    (parsing each cell's text where a saved file has an index), so its output is rewritten."""
    wb = Workbook()
    ws = wb.active
    ws.title = "农户名册"
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return _shared_strings(buf.getvalue())


_INLINE = re.compile(rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="inlineStr"><is><t>([^<]*)</t></is></c>')


def _shared_strings(data: bytes) -> bytes:
    strings: dict[bytes, int] = {}

    def shared(match: re.Match) -> bytes:
        index = strings.setdefault(match.group(3), len(strings))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (match.group(1), match.group(2) or b"", index)

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content, cells = _INLINE.subn(shared, content)
            elif item.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType='
                                          b'"application/vnd.openxmlformats-officedocument.spreadsheetml.'
                                          b'sharedStrings+xml"/></Types>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(b"</Relationships>", b'<Relationship Id="rIdSharedStrings" Type='
                                          b'"http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                                          b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
            target.writestr(item.filename, content)
        table = b"".join(b"<si><t>%s</t></si>" % text for text in strings)
        target.writestr("xl/sharedStrings.xml",
                        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.'
                        b'openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">%s</sst>'
                        % (cells, len(strings), table))
    return out.getvalue()


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


def _quiet_migrations() -> None:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)


def _app(url: str):
    from subsidy import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "AUDIT_KEY": AUDIT_KEY, "TESTING": True})


def _admin():
    from subsidy.accounts.models import User
    from subsidy.extensions import db

    return db.session.scalars(sa.select(User).where(User.username == "admin")).one()


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM belongs to the process image, so it
    starts afresh at exec; ru_maxrss does not (it keeps the high-water mark of the process
    that forked us, here the bench with all its generated rows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(url: str, path: str) -> None:
    """Run in a fresh process: import one file as the county admin, commit, print the peak."""
    app = _app(url)
    from subsidy.extensions import db
    from subsidy.households import importer

    with app.app_context():
        admin = _admin()
        db.session.commit()
        before = _peak_rss_mb()
        with open(path, "rb") as upload:
            result = importer.import_households(admin, upload, "bench.xlsx")
        db.session.commit()
    print(json.dumps({"before_mb": before, "peak_mb": _peak_rss_mb(), "created": result.created,
                      "updated": result.updated, "errors": result.error_count}))


def _driver_rows(rows: list[list], dialect: str, now) -> list[tuple]:
    """The rows the import writes, as the driver takes them: on SQLite the area as a float and
    the time as SQLAlchemy's naive-UTC text (sqlite3 binds neither Decimal nor an aware time)."""
    out = []
    if dialect == "sqlite":
        stamp = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        for name, id_number, phone, account, members, land, village in rows:
            out.append((village, name, id_number, phone, account, members, float(land), stamp, stamp))
    else:
        for name, id_number, phone, account, members, land, village in rows:
            out.append((village, name, id_number, phone, account, members,
                        Decimal(str(land)).quantize(Decimal("0.01")), now, now))
    return out


def raw_insert(engine, rows: list[tuple]) -> float:
    """Seconds for the driver's own executemany of `rows` into households, one transaction."""
    dialect = engine.dialect.name
    marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * len(COLUMNS))
    sql = f"INSERT INTO households ({', '.join(COLUMNS)}) VALUES ({marks})"
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        start = time.perf_counter()
        if dialect == "sqlite":  # the app's connections run sqlite3 with isolation_level=None
            cursor.execute("BEGIN")
            cursor.executemany(sql, rows)
            cursor.execute("COMMIT")
        else:
            cursor.executemany(sql, rows)
            conn.commit()
        seconds = time.perf_counter() - start
        cursor.close()
    finally:
        conn.close()
    return seconds


def clear_households() -> None:
    from subsidy.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("TRUNCATE households CASCADE"))  # a scratch database (see --reset)
    else:
        db.session.execute(sa.text("DELETE FROM households"))
    db.session.commit()


def median_ratio(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(value / base for value, base in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=TARGET_SIZE)
    parser.add_argument("--runs", type=int, default=3, help="runs of each pair (medians are reported)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one import and one export")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-child", metavar="XLSX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.database_url, args.memory_child)
        return
    tmp = tempfile.mkdtemp(prefix="bench_households_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    prepare_database(url, args.reset)

    from flask_migrate import upgrade

    from subsidy.common.timeutil import utcnow
    from subsidy.demo import load_demo
    from subsidy.extensions import db
    from subsidy.households import exporter, importer
    from subsidy.households.columns import layout
    from subsidy.households.exporter import EXPORT_COLUMNS
    from subsidy.households.models import Household
    from subsidy.regions.models import Level, Region

    app = _app(url)
    with app.app_context():
        upgrade()
        _quiet_migrations()
        load_demo(households_per_village=0)
        db.session.commit()
        dialect = db.engine.dialect.name
        villages = list(db.session.scalars(sa.select(Region.code).where(
            # the demo county (the demo city's other counties are not the benchmark's)
            Region.level == Level.village, Region.code.like("640425%"))))
        admin = _admin()

        rows = make_rows(args.n, villages)
        files = {"created": Path(tmp, "created.xlsx"), "updated": Path(tmp, "updated.xlsx")}
        files["created"].write_bytes(to_xlsx(rows))
        files["updated"].write_bytes(to_xlsx(make_rows(args.n, villages, phone_prefix="139")))
        driver_rows = _driver_rows(rows, dialect, utcnow())
        del rows

        write_phase = {"seconds": 0.0}
        real_write = importer._write

        def timed_write(*a, **kw):
            start = time.perf_counter()
            try:
                return real_write(*a, **kw)
            finally:
                write_phase["seconds"] += time.perf_counter() - start

        importer._write = timed_write

        def seconds(fn) -> tuple[float, float]:
            """(wall, CPU) seconds of fn(): CPU time is this process's only (on PostgreSQL the
            server's work is not in it), steadier than wall time on a shared machine."""
            start, cpu = time.perf_counter(), time.process_time()
            fn()
            return time.perf_counter() - start, time.process_time() - cpu

        def bare_read():
            wb = load_workbook(files["created"], read_only=True, data_only=True)
            count = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
            wb.close()
            assert count == args.n + 1

        def run_import(name: str, expect: tuple[int, int, int]) -> tuple[float, float]:
            """(wall, CPU) seconds of one import and its commit; the write phase lands in write_phase."""
            write_phase["seconds"] = 0.0
            start, cpu = time.perf_counter(), time.process_time()
            with open(files[name], "rb") as upload:
                result = importer.import_households(admin, upload, "bench.xlsx")
            assert result.ok, result.errors[:5]
            commit_start = time.perf_counter()
            db.session.commit()
            end = time.perf_counter()
            write_phase["seconds"] += end - commit_start
            assert (result.created, result.updated, result.unchanged) == expect, result.as_dict()
            return end - start, time.process_time() - cpu

        n = args.n
        t: dict[str, list[float]] = {k: [] for k in ("bare read", "import/create", "import/update", "import/same",
                                                     "raw insert", "import writes", "bare write", "export")}
        pairs: dict[str, list[tuple[float, float]]] = {"create": [], "update": [], "same": [], "writes": [],
                                                       "export": []}
        cpu_pairs: dict[str, list[tuple[float, float]]] = {"create": [], "update": [], "same": [], "export": []}
        for _ in range(max(1, args.runs)):
            clear_households()
            raw = raw_insert(db.engine, driver_rows)
            clear_households()
            read, read_cpu = seconds(bare_read)
            create, create_cpu = run_import("created", (n, 0, 0))
            writes = write_phase["seconds"]
            update, update_cpu = run_import("updated", (0, n, 0))
            same, same_cpu = run_import("updated", (0, 0, n))
            for key, value in (("create", create_cpu), ("update", update_cpu), ("same", same_cpu)):
                cpu_pairs[key].append((value, read_cpu))
            t["raw insert"].append(raw)
            t["import writes"].append(writes)
            t["bare read"].append(read)
            t["import/create"].append(create)
            t["import/update"].append(update)
            t["import/same"].append(same)
            pairs["create"].append((create, read))
            pairs["update"].append((update, read))
            pairs["same"].append((same, read))
            pairs["writes"].append((raw, writes))  # rows/s ratio = raw time ÷ write time
        importer._write = real_write

        export_rows = [tuple(r) for r in db.session.execute(
            sa.select(*(getattr(Household, c.key) for c in EXPORT_COLUMNS[:-1]), Region.name)
            .join_from(Household, Region, Region.code == Household.region_code)
            .order_by(Household.region_code, Household.id))]
        export_headers = layout(EXPORT_COLUMNS)[0]
        assert len(export_rows) == n

        def bare_write():
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("x")
            ws.append(export_headers)
            for r in export_rows:
                ws.append(r)
            with tempfile.SpooledTemporaryFile(max_size=16 << 20) as out:
                wb.save(out)

        def run_export():
            book = exporter.export_households(admin)
            db.session.commit()
            assert book.count == n
            book.file.close()

        for _ in range(max(1, args.runs)):
            write, write_cpu = seconds(bare_write)
            export, export_cpu = seconds(run_export)
            cpu_pairs["export"].append((export_cpu, write_cpu))
            t["bare write"].append(write)
            t["export"].append(export)
            pairs["export"].append((export, write))
        export_rows.clear()  # let the rows go before the memory figures (bare_write keeps the list)

        if args.profile:
            for title, fn in (("import/create", lambda: (clear_households(), run_import("created", (n, 0, 0)))),
                              ("export", run_export)):
                profile = cProfile.Profile()
                profile.runcall(fn)
                print(f"\n--- cProfile: {title} (cumulative, top 30)")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(30)

        memory: dict[str, dict] = {}
        if not args.no_memory:
            clear_households()
            for name in ("created", "updated"):
                done = subprocess.run([sys.executable, __file__, "--memory-child", str(files[name]),
                                       "--database-url", url], capture_output=True, text=True, check=True)
                memory[name] = json.loads(done.stdout.strip().splitlines()[-1])
                assert memory[name]["errors"] == 0 and memory[name]["created" if name == "created" else "updated"] == n

    medians = {label: statistics.median(values) for label, values in t.items()}
    runs = max(1, args.runs)
    judged = n >= TARGET_SIZE
    size = f"{n} rows × {runs} runs"
    print(f"households bench: N={n} rows, {dialect}, {runs} run(s), "
          f"file {files['created'].stat().st_size / 1e6:.2f} MB")
    floors = {"import/create": ("create", "bare read"), "import/update": ("update", "bare read"),
              "import/same": ("same", "bare read"), "export": ("export", "bare write")}
    for label, value in medians.items():
        extra = ""
        if label in floors:
            extra = (f"  ×{median_ratio(pairs[floors[label][0]]):.2f} of {floors[label][1]}"
                     f" (CPU ×{median_ratio(cpu_pairs[floors[label][0]]):.2f})")
        elif label == "import writes":
            extra = f"  ×{median_ratio(pairs['writes']):.2f} the raw insert's rows/s"
        print(f"  {label:<14} {value:7.3f} s  {n / value:9.0f} rows/s{extra}"
              f"   (runs: {', '.join(f'{v:.2f}' for v in t[label])})")
    for name, m in memory.items():
        print(f"  memory/{name:<7} peak {m['peak_mb']:.0f} MB in a fresh process "
              f"({m['before_mb']:.0f} MB before the import)")

    create_ratio = median_ratio(pairs["create"])
    update_ratio, same_ratio = median_ratio(pairs["update"]), median_ratio(pairs["same"])
    record(Figure(key="household_import", label="household import ÷ bare read",
                  value=round(medians["import/create"], 3),
                  baseline=round(medians["bare read"], 3), ratio=round(create_ratio, 3), unit="s", target="≤ 1.5",
                  met=at_most(create_ratio, 1.5) if judged else None, size=size,
                  note=(f"{n} new households, openpyxl read-only both; median of per-run ratios; update of every "
                        f"row ×{update_ratio:.2f}, unchanged re-import ×{same_ratio:.2f}; this process's CPU time "
                        f"×{median_ratio(cpu_pairs['create']):.2f}")))
    if memory:
        peak = max(m["peak_mb"] for m in memory.values())
        record(Figure(key="household_import_memory", label="household import peak memory", value=round(peak),
                      unit="MB", target="≤ 300 MB", met=at_most(peak, 300) if judged else None, size=f"{n} rows",
                      note=("peak RSS (VmHWM) of a fresh process running one import (the larger of create and update; "
                            + ", ".join(f"{k} {m['peak_mb']:.0f} MB" for k, m in memory.items())
                            + f"; {memory['created']['before_mb']:.0f} MB before the import)")))
    writes_ratio = median_ratio(pairs["writes"])
    record(Figure(key="household_import_rows", label="rows written during import ÷ raw executemany",
                  value=round(n / medians["import writes"]), baseline=round(n / medians["raw insert"]),
                  ratio=round(writes_ratio, 3), unit="rows/s", target="≥ 0.4",
                  met=at_least(writes_ratio, 0.4) if judged else None, size=size,
                  note=("import's write phase (importer._write: inserts, audit event, flush; plus the commit) "
                        "vs the driver's executemany of the same rows, one transaction; median of per-run ratios")))
    export_ratio = median_ratio(pairs["export"])
    record(Figure(key="household_export", label="register export ÷ bare write-only loop",
                  value=round(medians["export"], 3), baseline=round(medians["bare write"], 3),
                  ratio=round(export_ratio, 3), unit="s", target="≤ 2",
                  met=at_most(export_ratio, 2) if judged else None, size=size,
                  note="the service's export (query, stream, audit) vs openpyxl write-only of the same rows"))


if __name__ == "__main__":
    main()

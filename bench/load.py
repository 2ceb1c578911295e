"""Load tests: wrk against gunicorn on 127.0.0.1, bounded in time.

    python bench/load.py                                   # SQLite, a county of 50,000 households
    python bench/load.py --small                           # CI: tiny data, 2 s a scenario
    python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --reset
    python bench/load.py --database-url URL --no-generate  # reuse a generated database

Needs wrk (Debian's package: `bash tools/install-wrk.sh`). Prepares a database filled by
`bench.generate.generate` (or reuses one with --no-generate), starts gunicorn on a free port of
127.0.0.1, and runs wrk for `--duration` seconds a scenario, at 50 connections for the farmers'
page and its baseline and 10 for the staff pages (`--staff-connections`; see STAFF_CONNECTIONS):

  1. /healthz, the trivial endpoint of the same gunicorn: the baseline;
  2. the farmer's "my subsidies" page /m/me, rotating over many signed-in farmers: requests/s ÷
     the baseline's (target ≥ 0.25) and p95 (< 200 ms), measured in `--runs` pairs of half a
     scenario's length each, in alternating order (ABBA…), median of the pairs: the machine has
     slow phases lasting tens of seconds, and a page always measured after its baseline would
     carry any drift into every ratio;
  3. the county reviewer's queue /filings/queue and the review page of the largest filing
     awaiting county approval (the generator's 5,000-entry filing): p95 < 300 ms each;
  4. the dashboard /dashboard and /api/v1/stats/summary of the county (and of the province root
     where the data has one) as the app serves them after a refresh of the kept summaries
     (subsidy.stats.cache): p95 < 300 ms, the target being stated for a province on PostgreSQL;
  5. SQLite only: 50 clients, 90 % reads / 10 % writes through the JSON API (village clerks
     changing households' phones and recording phone inquiries) for `--lock-duration` seconds;
     counts "database is locked" in gunicorn's log and in the answers, and checks that every
     acknowledged write is in the database (rows counted before and after). Target 0.

The server: gunicorn, 4 workers × 4 threads (gthread), `--preload`: the README's 2 × cores.
Two workers for two cores, as first chosen, gave the farmers' page a bimodal throughput (about
400 or 770 req/s a 10 s run on PostgreSQL, whatever the baseline did): wrk's 50 keep-alive
connections are shared unevenly between the workers when a run opens them, and a run whose
connections mostly land on one worker is served by one process under one GIL. Four workers
make such a skew rarer and smaller. Threads keep wrk's connections alive between requests (the
sync worker closes every connection, so its figures would measure TCP set-up more than the app)
and overlap the waits on the database; wrk has 1 thread. `--workers/--worker-class/--threads`
change it; the lock test runs its own server of 4 workers × 4 threads, so that up to 16
transactions meet on SQLite's one write lock.

Sessions are signed here with the server's SECRET_KEY, as the app signs them (farmers: the
`farmer` key of subsidy.public.farmer; staff: Flask-Login's login_user, for the address and
User-Agent wrk sends); API tokens are issued through the accounts service; nothing logs in over
HTTP, so a reused database needs no password. Rate limits are off on the bench server
(RATELIMIT_ENABLED=False, Flask-Limiter's own setting, given to `create_app`): only the sign-in
and code endpoints have limits, none of which the scenarios call, but a limiter answering 429s
to one busy address must never be what a load test measures.

wrk measures only what is answered inside a run (timeout 30 s): a page slower than the run
answers nothing, and its figure says so (p95 > the run's length). After each run the server
serves the backlog wrk left (or is restarted, past 20 s) before the next begins. The table also
shows each path's latency alone (one request at a time, median of the warm-up). `--small` (CI)
runs 10 connections a page scenario, so that 2 s runs answer something, and judges no target.
Each figure is recorded through bench.report.
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.loadserver import CONNECTIONS, USER_AGENT, Run, Server, get, request_line  # noqa: E402
from bench.report import Figure, record  # noqa: E402

# Staff pages are loaded by staff: the target states 50 clients for the farmers' page only. A
# province's county reviewers and supervisors number in the tens and rarely load the same heavy
# page at the same second; 10 at once on one 2-core machine is a busy morning.
STAFF_CONNECTIONS = 10
LOCKED = "database is locked"
INSTALL_HINT = "wrk is not installed: run `bash tools/install-wrk.sh` (Debian's wrk package), then try again."


# --- results ---------------------------------------------------------------------------------

@dataclass
class Report:
    database: str
    size: str
    server: str
    connections: int = CONNECTIONS
    runs: list[Run] = field(default_factory=list)
    lock: dict | None = None
    figures: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# --- the database -----------------------------------------------------------------------------

def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def table_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return len(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def make_app(url: str, secret: str, **extra):
    from subsidy import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "RATELIMIT_ENABLED": False, **extra})


def prepare(args, url: str) -> str:
    """Fill the database through bench.generate (unless --no-generate); answers a line saying
    what was made. What the scenarios need is then found in the database (`discover`), so that
    a database generated earlier serves as well."""
    if args.no_generate:
        if table_count(url) == 0:
            sys.exit(f"--no-generate: {url} holds no tables; generate it first (bench/generate.py)")
        return "existing database"
    if is_postgres(url):
        from subsidy.common.database import reset_postgres_schema

        if args.reset:
            reset_postgres_schema(url)
        elif table_count(url):
            sys.exit(f"{url} is not empty; pass --reset (DROPS its public schema) or --no-generate")
    else:
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            if not args.reset:
                sys.exit(f"{path} exists; pass --reset to replace it or --no-generate to reuse it")
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    from bench.generate import generate

    kwargs = {} if args.seed is None else {"seed": args.seed}
    result = generate(url, households=args.households, big_filing=args.big_filing, **kwargs)
    what = (f"generated {result['households']:,} households, {result['entries']:,} entries, "
            f"{result['filings']:,} filings")
    return f"{what} in {time.perf_counter() - started:.0f} s"


@dataclass
class Subjects:
    """Who and what the scenarios ask for, found in the database whoever filled it."""

    county: str
    root: str | None
    year: int
    households: int
    farmer_ids: list[int]
    big_filing: int | None
    big_filing_entries: int
    reviewer_id: int | None
    root_user_id: int | None
    clerks: list[tuple[int, str, list[int]]]  # (user id, village, household ids in it)


def discover(app, farmers: int, seed: int) -> Subjects:
    from subsidy.accounts.models import Role, User
    from subsidy.extensions import db
    from subsidy.filings.models import Entry, Filing, FilingState
    from subsidy.households.models import Household
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region

    rng = random.Random(seed)
    with app.app_context():
        s = db.session
        big = s.execute(
            sa.select(Filing.id, Filing.region_code, Filing.project_id, sa.func.count(Entry.id).label("n"))
            .join(Entry, Entry.filing_id == Filing.id)
            .where(Filing.state == FilingState.township_approved)
            .group_by(Filing.id, Filing.region_code, Filing.project_id)
            .order_by(sa.desc("n")).limit(1)).first()
        if big is not None:
            county = big.region_code[:6]
            year = s.scalar(sa.select(Project.year).where(Project.id == big.project_id))
        else:
            county = s.scalar(sa.select(Region.code).where(sa.func.length(Region.code) == 6).order_by(Region.code))
            if county is None:
                sys.exit("the database holds no county")
            year = s.scalar(sa.select(sa.func.max(Project.year)).where(Project.county_code == county))
        if year is None:
            from subsidy.common.timeutil import local_today

            year = local_today().year
        # The region above the county whose dashboard someone there may open (the city's, once its
        # roles read the dashboard; the province has no users), the nearest first.
        from subsidy.accounts.permissions import Perm, holders
        from subsidy.regions.scope import ancestors

        root = s.scalar(sa.select(User.region_code).where(
            User.region_code.in_(ancestors(county)), User.role.in_(holders(Perm.view_dashboard)),
            User.active.is_(True)).order_by(sa.func.length(User.region_code).desc()).limit(1))
        households = s.scalar(sa.select(sa.func.count()).select_from(Household))
        in_county = Household.region_code.like(county + "%")
        with_entries = sa.select(Entry.id).where(Entry.household_id == Household.id).exists()
        ids = list(s.scalars(sa.select(Household.id).where(in_county, with_entries)))
        if not ids:  # a database without filings: the page still renders, with nothing on it
            ids = list(s.scalars(sa.select(Household.id).where(in_county)))
        if not ids:
            sys.exit(f"county {county} has no households")
        farmer_ids = rng.sample(ids, min(farmers, len(ids)))

        def user_of(role, code):
            return s.scalar(sa.select(User.id).where(User.role == role, User.region_code == code,
                                                     User.active.is_(True)).order_by(User.id))

        reviewer = user_of(Role.county_reviewer, county)
        root_user = None
        if root is not None:
            root_user = s.scalar(sa.select(User.id).where(User.region_code == root, User.active.is_(True),
                                                          User.role.in_(holders(Perm.view_dashboard)))
                                 .order_by(User.id))
        clerk_rows = s.execute(sa.select(User.id, User.region_code).where(
            User.role == Role.village_clerk, User.region_code.like(county + "%"), User.active.is_(True))
            .order_by(User.id)).all()
        clerk_rows = rng.sample(clerk_rows, min(20, len(clerk_rows)))
        clerks = []
        for uid, village in clerk_rows:
            hh = list(s.scalars(sa.select(Household.id).where(Household.region_code == village)
                                .order_by(Household.id).limit(50)))
            if hh:
                clerks.append((uid, village, hh))
        db.engine.dispose()
    return Subjects(county, root, int(year), int(households or 0), farmer_ids, big.id if big else None,
                    int(big.n) if big else 0, reviewer, root_user, clerks)


def signed_sessions(app, subjects: Subjects) -> tuple[list[str], dict[int, str]]:
    """Session cookies as a returning browser holds them: farmers signed in by ID + code, and
    staff signed in by Flask-Login from 127.0.0.1 with wrk's User-Agent; both with the CSRF
    token the first page with a form put in the session (wrk keeps no cookies: without it
    every request would make and store a new token, which a browser does once)."""
    from flask import session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from subsidy.accounts.models import User
    from subsidy.common.timeutil import utcnow
    from subsidy.extensions import db
    from subsidy.households.models import Household
    from subsidy.public import farmer
    from subsidy.public.models import CodePurpose, LoginCode

    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    farmers = []
    staff = {}
    env = {"REMOTE_ADDR": "127.0.0.1"}
    with app.app_context():
        # A farmer's session is a used sign-in request on the server (subsidy.public.farmer).
        now = utcnow()
        requests = {}
        for hh in subjects.farmer_ids:
            row = LoginCode(purpose=CodePurpose.login, phone=db.session.get(Household, hh).phone or "", household_id=hh,
                            code_hash="", address="127.0.0.1", created_at=now, expires_at=now, used_at=now)
            db.session.add(row)
            db.session.flush()
            requests[hh] = row.id
            ADDED["login_codes"].append(row.id)
        db.session.commit()
        for hh in subjects.farmer_ids:
            with app.test_request_context("/m/me", environ_base=env, headers={"User-Agent": USER_AGENT}):
                farmer.sign_in(hh, requests[hh])
                generate_csrf()
                farmers.append(f"{name}={serializer.dumps(dict(session))}")
        for uid in {subjects.reviewer_id, subjects.root_user_id} - {None}:
            with app.test_request_context("/", environ_base=env, headers={"User-Agent": USER_AGENT}):
                login_user(db.session.get(User, uid))
                generate_csrf()
                staff[uid] = f"{name}={serializer.dumps(dict(session))}"
        db.engine.dispose()
    return farmers, staff


# What the bench adds to a database it did not generate, taken away when it is done: the API
# tokens it issued and the kept summaries it added (their audit events stay: the chain is kept).
ADDED = {"tokens": [], "stats_cache": [], "login_codes": []}


def issue_tokens(app, user_ids) -> dict[int, str]:
    from subsidy.accounts.models import User
    from subsidy.accounts.service import issue_token
    from subsidy.extensions import db

    tokens = {}
    with app.app_context():
        for uid in user_ids:
            tokens[uid], row = issue_token(db.session.get(User, uid))
            ADDED["tokens"].append(row.id)
        db.session.commit()
        db.engine.dispose()
    return tokens


def take_away_additions(app) -> None:
    from subsidy.accounts.models import ApiToken
    from subsidy.extensions import db
    from subsidy.public.models import LoginCode
    from subsidy.stats.models import StatsCache

    with app.app_context():
        if ADDED["tokens"]:
            db.session.execute(sa.delete(ApiToken).where(ApiToken.id.in_(ADDED["tokens"])))
        if ADDED["login_codes"]:
            db.session.execute(sa.delete(LoginCode).where(LoginCode.id.in_(ADDED["login_codes"])))
        for kind, code, year in ADDED["stats_cache"]:
            db.session.execute(sa.delete(StatsCache).where(StatsCache.kind == kind, StatsCache.region_code == code,
                                                           StatsCache.year == year))
        db.session.commit()
        db.engine.dispose()


def refresh_stats(app, subjects: Subjects) -> list[str]:
    """Recompute and keep the summary and dashboard of the measured regions, as the dashboard's
    刷新 button and `flask stats refresh` do (only these regions: a whole province takes long)."""
    from subsidy.accounts.models import User
    from subsidy.extensions import db
    from subsidy.stats import service
    from subsidy.stats.models import StatsCache

    done = []
    with app.app_context():
        for code, uid in ((subjects.county, subjects.reviewer_id), (subjects.root, subjects.root_user_id)):
            if code is None or uid is None:
                continue
            for kind in ("summary", "dashboard"):
                if db.session.get(StatsCache, (kind, code, subjects.year)) is None:
                    ADDED["stats_cache"].append((kind, code, subjects.year))
            actor = db.session.get(User, uid)
            started = time.perf_counter()
            service.summary(actor, code, subjects.year, refresh=True)
            service.dashboard(actor, code, subjects.year, refresh=True)
            db.session.commit()
            done.append(f"{code} {time.perf_counter() - started:.1f} s")
        db.engine.dispose()
    return done


def write_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "cases": conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one(),
                "household_updates": conn.execute(sa.text(
                    "SELECT count(*) FROM audit_events WHERE action = 'household.update'")).scalar_one(),
            }
    finally:
        engine.dispose()


# --- the server -------------------------------------------------------------------------------

# --- the scenarios ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: a new SQLite file in a temporary directory)")
    parser.add_argument("--reset", action="store_true",
                        help="PostgreSQL: DROP the public schema first; SQLite: replace the file")
    parser.add_argument("--no-generate", action="store_true", help="reuse the database as it is")
    parser.add_argument("--households", type=int, default=None, help="size to generate (default 50,000; --small 600)")
    parser.add_argument("--big-filing", type=int, default=None, help="entries of the filing to review (default 5,000)")
    parser.add_argument("--seed", type=int, default=None, help="the generator's seed (default its own)")
    parser.add_argument("--small", action="store_true", help="CI: tiny data, 2 s a scenario, a 4 s lock test")
    parser.add_argument("--duration", type=float, default=None, help="seconds a scenario (default 20; --small 2)")
    parser.add_argument("--lock-duration", type=float, default=None, help="seconds of the lock test (default 60)")
    parser.add_argument("--runs", type=int, default=None,
                        help="baseline + farmer page pairs, ABBA, median taken "
                             "(default 6 of half a scenario each; --small 1)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads a worker (gthread)")
    parser.add_argument("--lock-workers", type=int, default=4)
    parser.add_argument("--lock-threads", type=int, default=4,
                        help="threads a worker of the lock test's gthread server")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=None,
                        help="wrk connections of the page scenarios (default 50; --small 10); the lock test has 50")
    parser.add_argument("--staff-connections", type=int, default=None,
                        help="wrk connections of the staff pages (default 10: see STAFF_CONNECTIONS)")
    parser.add_argument("--farmers", type=int, default=2000, help="different signed-in farmers to rotate over")
    parser.add_argument("--only", default="farmer,staff,lock",
                        help="scenario groups to run, of farmer (baseline + /m/me), staff, lock")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, request lists)")
    args = parser.parse_args(argv)
    small = args.small
    args.households = args.households or (600 if small else 50_000)
    args.big_filing = args.big_filing or (200 if small else 5_000)
    duration = args.duration or (2.0 if small else 20.0)
    lock_duration = args.lock_duration or (4.0 if small else 60.0)
    pair_runs = args.runs or (1 if small else 6)
    pair_duration = duration if small else duration / 2
    # A 2 s run at 50 connections against pages taking ~100 ms on a busy 2-core machine answers
    # almost nothing inside its window (wrk counts only what comes back in time): CI's smoke run
    # uses fewer connections. The figures of a small run judge nothing anyway.
    args.connections = args.connections or (10 if small else CONNECTIONS)
    args.staff_connections = args.staff_connections or min(STAFF_CONNECTIONS, args.connections)
    args.only = {g.strip() for g in args.only.split(",") if g.strip()}
    if not args.only <= {"farmer", "staff", "lock"}:
        parser.error("--only takes farmer, staff and lock")

    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench_load_"))
    url = args.database_url or f"sqlite:///{work}/load.sqlite3"
    database = "PostgreSQL" if is_postgres(url) else "SQLite"
    secret = secrets.token_hex(32)  # never the built-in key: the app refuses it
    app = None
    try:
        made = prepare(args, url)
        app = make_app(url, secret)
        subjects = discover(app, args.farmers, args.seed or 8)
        size = f"{subjects.households:,} households, county {subjects.county}"
        if subjects.root:
            size += f", root {subjects.root}"
        print(f"load bench: {database}; {made}")
        print(f"  {size}; year {subjects.year}; {len(subjects.farmer_ids)} farmers; "
              f"filing {subjects.big_filing} ({subjects.big_filing_entries:,} entries)")
        farmers, staff = signed_sessions(app, subjects)
        refreshed = refresh_stats(app, subjects)
        if refreshed:
            print("  kept summaries refreshed: " + ", ".join(refreshed))
        report = Report(database, size, "", args.connections)
        code = run_scenarios(args, app, url, secret, subjects, farmers, staff, work, report,
                             duration=duration, lock_duration=lock_duration, pair_runs=pair_runs,
                             pair_duration=pair_duration, small=small)
        if args.json:
            Path(args.json).write_text(json.dumps(asdict(report), ensure_ascii=False, indent=1))
        return code
    finally:
        if args.no_generate and app is not None:
            take_away_additions(app)
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_scenarios(args, app, url, secret, subjects, farmers, staff, work: Path, report: Report, *,
                  duration, lock_duration, pair_runs, pair_duration, small) -> int:
    lists = work / "lists"
    lists.mkdir(exist_ok=True)

    def list_file(name: str, lines: list[str]) -> str:
        path = lists / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    reviewer_cookie = staff.get(subjects.reviewer_id)
    tokens = issue_tokens(app, [u for u in (subjects.reviewer_id, subjects.root_user_id) if u])
    healthz = list_file("healthz", [request_line("GET", "/healthz")])
    me = list_file("me", [request_line("GET", "/m/me", headers={"Cookie": c}) for c in farmers])
    staff_pages = []  # (scenario key, label, path, headers)
    if reviewer_cookie:
        staff_pages.append(("review_queue", "reviewer queue", "/filings/queue", {"Cookie": reviewer_cookie}))
        if subjects.big_filing:
            staff_pages.append(("review_page", f"review page ({subjects.big_filing_entries:,} entries)",
                                f"/filings/{subjects.big_filing}", {"Cookie": reviewer_cookie}))
        else:
            report.skipped.append("review page: no filing awaiting county approval")
    else:
        report.skipped.append(f"reviewer pages and stats: no county reviewer in {subjects.county}")
    for code, uid in ((subjects.county, subjects.reviewer_id), (subjects.root, subjects.root_user_id)):
        if code is None or uid is None:
            if code is not None:
                report.skipped.append(f"dashboard of {code}: nobody signed in there")
            continue
        q = f"region_code={code}&year={subjects.year}"
        staff_pages.append(("dashboard", f"dashboard {code}", f"/dashboard?{q}", {"Cookie": staff[uid]}))
        staff_pages.append(("stats_summary", f"/stats/summary {code}", f"/api/v1/stats/summary?{q}",
                            {"Authorization": f"Bearer {tokens[uid]}"}))

    wt = args.wrk_threads
    failures = []
    server = Server(url, secret, args.workers, args.worker_class, args.threads, work / "gunicorn.log")
    report.server = server.describe
    print(f"  server: {server.describe} on {server.base}; wrk {wt} thread(s), {args.connections} connections, "
          f"{duration:g} s a run\n")
    summary_cached = None
    with server:
        # Warm every worker's templates and connections before timing anything.
        # Warm every worker's templates and connections before timing anything; the requests
        # after the first, one at a time, also give each path's latency without load.
        checks = [("/healthz", {}), ("/m/me", {"Cookie": farmers[0]})] + [(p, h) for _k, _l, p, h in staff_pages]
        single = {}
        for path, headers in checks:
            times = []
            for _ in range(2 if small else 1 + 2 * args.workers):
                t0 = time.perf_counter()
                status, body = get(server.base, path, headers)
                times.append((time.perf_counter() - t0) * 1000)
            single[path] = statistics.median(times[1:])
            if status != 200:
                failures.append(f"{path} answered {status} before the run")
            if path.startswith("/api/v1/stats/summary") and status == 200:
                summary_cached = json.loads(body).get("cached")
        if failures:
            print("\n".join(failures) + "\n" + server.tail(), file=sys.stderr)
            return 1

        pairs = []
        if "farmer" in args.only:
            for i in range(pair_runs):
                def base():
                    return server.wrk("requests.lua", [healthz], pair_duration, "healthz", "/healthz", wt,
                                      args.connections)

                def page():
                    return server.wrk("requests.lua", [me], pair_duration, "farmer_my_subsidies", "/m/me", wt,
                                      args.connections)

                if i % 2 == 0:
                    b, p = base(), page()
                    report.runs += [b, p]
                else:
                    p, b = page(), base()
                    report.runs += [p, b]
                pairs.append((b, p))
        staff_runs = []
        if "staff" in args.only:
            for key, label, path, headers in staff_pages:
                lines = [request_line("GET", path, headers=headers)]
                run = server.wrk("requests.lua", [list_file(key, lines)], duration, key, path, wt,
                                 args.staff_connections)
                run.label = label
                staff_runs.append(run)
            report.runs += staff_runs

    for run in report.runs:
        run.single_ms = single.get(run.path)
    figures = []
    judge = (lambda ok: None) if small else (lambda ok: bool(ok))
    if pairs:
        median_ratio = statistics.median(p.rps / b.rps for b, p in pairs)
        base_rps = statistics.median(b.rps for b, _ in pairs)
        page_rps = statistics.median(p.rps for _, p in pairs)
        page_p95 = statistics.median(p.p95_ms for _, p in pairs)
        runs_note = (f"median of {pair_runs} pairs of {pair_duration:g} s, ABBA; " if pair_runs > 1 else "")
        figures.append(Figure("farmer_my_subsidies", "farmer “my subsidies” rps ÷ /healthz rps", page_rps, "req/s",
                              "≥ 0.25", judge(median_ratio >= 0.25), baseline=base_rps, ratio=median_ratio,
                              note=f"{runs_note}{len(farmers)} farmers, {args.connections} clients, {server.describe}",
                              size=report.size))
        figures.append(Figure("farmer_my_subsidies_p95", f"farmer “my subsidies” p95 at {args.connections} clients",
                              page_p95, "ms",
                              "< 200 ms", judge(page_p95 < 200), note=f"{runs_note}{server.describe}",
                              size=report.size))
    for run in staff_runs:
        notes = [run.label, f"{args.staff_connections} clients", server.describe]
        if run.single_ms is not None:
            notes.append(f"alone {run.single_ms:,.0f} ms")
        if run.scenario == "stats_summary":
            notes.append("served from the refreshed summary" if summary_cached else "computed live")
        elif run.scenario == "dashboard":
            notes.append("after a refresh of the kept figures")
        if run.scenario in ("dashboard", "stats_summary") and not is_postgres(url):
            notes.append("target stated for a province on PostgreSQL")
        p95 = run.p95_ms
        if run.requests == 0:
            # wrk measures only what is answered inside the run: nothing answered means every
            # request took longer than the run, so its length is a lower bound of the p95.
            p95 = duration * 1000
            notes.append(f"no answer within the {duration:g} s run: p95 > {duration:g} s")
        elif run.requests < 20:
            notes.append(f"only {run.requests} answers within the run (the slower ones are not counted)")
        notes.append(run.note)
        figures.append(Figure(f"{run.scenario}_p95", f"{run.label} p95", p95, "ms", "< 300 ms",
                              judge(run.requests > 0 and p95 < 300), note="; ".join(n for n in notes if n),
                              size=report.size))

    if "lock" not in args.only:
        pass
    elif is_postgres(url):
        report.skipped.append("lock test: SQLite only")
    elif not subjects.clerks:
        report.skipped.append("lock test: no village clerk with households in the county")
        failures.append("lock test could not run")
    else:
        lock, figure = lock_test(args, app, url, secret, subjects, farmers, work, list_file, lock_duration, report)
        report.lock = lock
        figures.append(figure)
        if not lock["writes_landed"]:
            failures.append("lock test: acknowledged writes missing from the database")

    for figure in figures:
        record(figure)
        report.figures.append(asdict(figure))
    print_table(report)
    if failures:
        print("\n".join(failures), file=sys.stderr)
    return 1 if failures else 0


def lock_test(args, app, url, secret, subjects, farmers, work, list_file, seconds, report) -> tuple[dict, Figure]:
    """50 clients, 90 % reads / 10 % writes, against a server with more concurrent transactions
    than cores (gthread) so that SQLite's writers really meet."""
    tokens = issue_tokens(app, [uid for uid, _v, _h in subjects.clerks])
    reads, writes = [], []
    for uid, village, households in subjects.clerks:
        auth = {"Authorization": f"Bearer {tokens[uid]}"}
        reads.append(request_line("GET", f"/api/v1/households?region_code={village}&per_page=20", headers=auth))
        reads.append(request_line("GET", "/api/v1/cases?scope=mine&per_page=20", headers=auth))
        for hh in households[:10]:
            writes.append(request_line("PATCH", f"/api/v1/households/{hh}", '{"phone": "{phone}"}',
                                       {**auth, "Content-Type": "application/json"}))
            body = json.dumps({"kind": "inquiry", "region_code": village, "channel": "phone",
                               "subject": "咨询补贴到账时间", "body": "农户来电询问今年耕地地力保护补贴何时到账。{n}",
                               "contact_phone": "{phone}", "household_id": hh}, ensure_ascii=False)
            writes.append(request_line("POST", "/api/v1/cases", body, {**auth, "Content-Type": "application/json"}))
    reads += [request_line("GET", "/m/me", headers={"Cookie": c}) for c in farmers[:200]]
    random.Random(args.seed or 8).shuffle(reads)
    random.Random(args.seed or 8).shuffle(writes)
    read_file, write_file = list_file("lock_reads", reads), list_file("lock_writes", writes)

    before = write_counts(url)
    server = Server(url, secret, args.lock_workers, "gthread", args.lock_threads, work / "gunicorn-lock.log")
    with server:
        mark = server.log_size()
        run = server.wrk("mixed.lua", [read_file, write_file, "10"], seconds, "sqlite_lock", "(90/10 mix)",
                         args.wrk_threads, CONNECTIONS)
        locked_log = server.log_count(LOCKED, mark)
        errors_log = server.log_count("Traceback", mark)
        describe = server.describe
    after = write_counts(url)
    c = run.counters
    acked = {"cases": int(c.get("ack_case", 0)), "household_updates": int(c.get("ack_household", 0))}
    landed = {k: after[k] - before[k] for k in before}
    sent = int(c.get("sent_write", 0))
    # Every write acknowledged to a client is in the database; a write still in flight when wrk
    # stopped may have landed unacknowledged, so the database may hold more, never fewer.
    writes_landed = all(landed[k] >= acked[k] for k in acked) and sum(acked.values()) > 0 and \
        sum(landed.values()) <= sent
    statuses = {k.removeprefix("status_"): v for k, v in c.items() if k.startswith("status_")}
    non_2xx = sum(v for k, v in statuses.items() if not k.startswith("2"))
    locked = locked_log + int(c.get("locked_body", 0))
    run.note = f"{describe}; {seconds:g} s"
    report.runs.append(run)
    lock = {"seconds": seconds, "requests": run.requests, "rps": run.rps, "p95_ms": run.p95_ms,
            "sent_writes": sent, "acked": acked, "landed": landed, "writes_landed": writes_landed,
            "locked_in_log": locked_log, "locked_in_answers": int(c.get("locked_body", 0)), "locked": locked,
            "tracebacks_in_log": errors_log, "statuses": statuses, "non_2xx": non_2xx, "server": describe,
            "transport_errors": run.bad - int(run.errors.get("status", 0))}
    met = None if args.small else (locked == 0 and writes_landed)
    figure = Figure("sqlite_locked", "SQLite 50 clients 90/10: “database is locked”", locked, "errors", "0", met,
                    note=(f"{run.requests:,} requests in {seconds:g} s, {sum(acked.values()):,} writes acknowledged "
                          f"and {sum(landed.values()):,} landed, {non_2xx} non-2xx; {describe}"),
                    size=report.size)
    return lock, figure


def print_table(report: Report) -> None:
    print(f"\nload tests on {report.database} ({report.size}); {report.server}; {report.connections} connections "
          f"(lock test {CONNECTIONS})")
    header = ("scenario", "path", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "1 client ms", "")
    rows = [header]
    for r in report.runs:
        path = r.path if len(r.path) <= 46 else r.path[:43] + "…"
        rows.append((r.scenario, path, f"{r.requests:,}", f"{r.rps:,.1f}", f"{r.p50_ms:.0f}", f"{r.p95_ms:.0f}",
                     f"{r.p99_ms:.0f}", str(r.bad), "" if r.single_ms is None else f"{r.single_ms:.0f}", r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if 2 <= i < len(header) - 1 else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print(("  " + "  ".join(cells)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths[:-1]))
    print("  (errors: answers other than 2xx/3xx and failed or timed-out requests; wrk measures only what is "
          "answered inside the run, 30 s at most; 1 client: the same request alone, median of the warm-up)")
    if report.lock:
        lk = report.lock
        print(f"\n  lock test ({lk['server']}, {lk['seconds']:g} s): {lk['requests']:,} requests, "
              f"{lk['sent_writes']:,} writes sent, acknowledged {lk['acked']}, landed {lk['landed']} → "
              f"{'all acknowledged writes landed' if lk['writes_landed'] else 'WRITES MISSING'}; "
              f"“database is locked”: {lk['locked_in_log']} in the log, {lk['locked_in_answers']} in answers; "
              f"non-2xx {lk['non_2xx']} {lk['statuses']}")
    print("\n  figures:")
    for f in report.figures:
        ratio = f"  ×{f['ratio']:.2f} of {f['baseline']:,.0f}" if f["ratio"] is not None else ""
        met = {True: "met", False: "NOT met", None: "not judged (small)"}[f["met"]]
        print(f"    {f['label']}: {f['value']:,.1f} {f['unit']}{ratio}  target {f['target']}: {met}  ({f['note']})")
    for line in report.skipped:
        print(f"  skipped: {line}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Load test: clerks import large household files while farmers sign in and the SMS worker
drains, on SQLite — where one write lock serves them all.

    python bench/load_imports.py                  # 10 clerks × 10,000-row files, twice each
    python bench/load_imports.py --small          # CI: 10 clerks × 200 rows, a few farmers
    python bench/load_imports.py --rows 10000 --imports 2 --farmers 20 --json out.json --keep

What runs at once, against gunicorn on 127.0.0.1 (4 workers × 4 threads, gthread, as
bench/load.py) over a fresh SQLite file holding the demo county (regions, users, 50 households
a village):

  1. `--clerks` village clerks, each in a village of their own, upload a `--rows`-row .xlsx
     of new households of that village through the API (POST /api/v1/households/import, their
     bearer token), `--imports` times: first creating them, then with every phone changed
     (updating them). The files are as Excel saves them (text in the shared strings);
  2. `--farmers` farmers at a time sign in on their phones, over and over until the clerks are
     done: the sign-in page, their ID number and mobile number (a code is queued), the code as
     the SMS brings it (read from the console gateway's outbox file, so a farmer waits for the
     worker), the code page, then "my subsidies" (/m/me). Each farmer of the county (their
     villages are not the clerks') signs in at most once, as the one-code-a-minute rule wants;
  3. one `flask sms worker` (the console gateway) sends the codes as they come.

It reports "database is locked" wherever it shows (gunicorn's log, the worker's log, any
answer), whether the worker exited before it was stopped, server errors (5xx), the imports
(each one's time, rows a second), the sign-ins (completed, failed, p50/p95 of a whole sign-in
and of the code's delivery) and the SMS left unsent once the worker had drained. Targets: no
"database is locked" and no worker exit. Figures are recorded through bench.report; `--small`
judges nothing. Nothing needs wrk: the clients are Python threads, each flow with its own
cookies, as a phone's browser keeps them.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.bench_households import to_xlsx  # noqa: E402
from bench.loadserver import USER_AGENT, Server  # noqa: E402
from bench.report import Figure, record  # noqa: E402

LOCKED = "database is locked"
CODE_RE = re.compile(r"验证码(\d{6})")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- results ---------------------------------------------------------------------------------

@dataclass
class Results:
    imports: list[dict] = field(default_factory=list)      # {clerk, pass, status, seconds, created, updated}
    signins: list[dict] = field(default_factory=list)      # {ok, stage, seconds, code_seconds}
    statuses: dict = field(default_factory=dict)           # HTTP status → count, every request
    locked_in_answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int, body: str) -> None:
        with self.lock:
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if LOCKED in body:
                self.locked_in_answers += 1


# --- the database ----------------------------------------------------------------------------

def make_app(url: str, secret: str):
    from subsidy import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": secret, "RATELIMIT_ENABLED": False})


@dataclass
class Cast:
    clerks: list[tuple[int, str]]             # (user id, village)
    tokens: dict[int, str]
    farmers: list[tuple[str, str]]            # (ID number, mobile)


def prepare(url: str, secret: str, clerks: int, per_village: int, seed: int) -> Cast:
    """Migrate a fresh database, load the demo county, make one clerk in each of `clerks`
    villages, issue their tokens, and list the farmers of the other villages (distinct phones)."""
    import logging
    import random

    from flask_migrate import upgrade

    from subsidy.accounts.models import Role, User
    from subsidy.accounts.service import issue_token
    from subsidy.demo import load_demo
    from subsidy.extensions import db
    from subsidy.households.models import Household
    from subsidy.regions.models import Level, Region

    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = make_app(url, secret)
    with app.app_context():
        upgrade()
        load_demo(households_per_village=per_village)
        db.session.commit()
        villages = list(db.session.scalars(sa.select(Region.code).where(
            # the demo county (the demo city's other counties are not the benchmark's)
            Region.level == Level.village, Region.code.like("640425%"))
                                           .order_by(Region.code)))
        rng = random.Random(seed)
        chosen = rng.sample(villages, clerks)
        cast = []
        for i, village in enumerate(chosen):
            user = User(username=f"clerk_load_{i}", name=f"经办员{i}", role=Role.village_clerk, region_code=village,
                        password_hash="!")
            db.session.add(user)
            db.session.flush()
            cast.append((user.id, village))
        tokens = {uid: issue_token(db.session.get(User, uid))[0] for uid, _ in cast}
        db.session.commit()
        seen, farmers = set(), []
        for id_number, phone in db.session.execute(
                sa.select(Household.id_number, Household.phone).where(Household.phone.is_not(None),
                                                                      Household.region_code.not_in(chosen))
                .order_by(Household.id)):
            if phone not in seen:
                seen.add(phone)
                farmers.append((id_number, phone))
        rng.shuffle(farmers)
        db.session.remove()
        db.engine.dispose()
    return Cast(cast, tokens, farmers)


def queue_left(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM sms_messages WHERE status IN ('queued', 'sending')")
                                ).scalar_one()
    finally:
        engine.dispose()


def import_files(cast: Cast, rows: int, passes: int, work: Path) -> dict[tuple[int, int], Path]:
    """One file per clerk and pass: `rows` new households of the clerk's village (born from 2001
    on, so no ID number can meet a demo household's), each pass with other phone numbers."""
    from subsidy.demo import make_id_number

    base = date(2001, 1, 1)
    files = {}
    for c, (uid, village) in enumerate(cast.clerks):
        for p in range(passes):
            data = []
            for k in range(rows):
                i = c * rows + k
                data.append([f"农户{i}", make_id_number(None, base + timedelta(days=i // 1000), i % 500,
                                                       female=bool(i // 500 % 2)),
                             f"1{37 + p}{i:08d}", f"6231{i:015d}", 1 + i % 7, round(3 + (i % 400) / 10, 1)])
            path = work / f"clerk{c}_pass{p}.xlsx"
            # bench_households' writer adds 村代码 (the clerk's own village: valid, if optional for them).
            path.write_bytes(to_xlsx([r + [village] for r in data]))
            files[(uid, p)] = path
    return files


# --- HTTP ------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A phone's browser: its own cookies, no redirects followed (their target is checked)."""

    def __init__(self, base: str, results: Results, timeout: float = 120):
        self.base, self.results, self.timeout = base, results, timeout
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect)

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            with self.opener.open(req, timeout=self.timeout) as answer:
                status, body, location = answer.status, answer.read(), answer.headers.get("Location", "")
        except urllib.error.HTTPError as exc:
            status, body, location = exc.code, exc.read(), exc.headers.get("Location", "")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            status, body, location = 0, str(exc).encode(), ""
        text = body.decode("utf-8", errors="replace")
        self.results.count(status, text)
        return status, text, location

    def form(self, path: str, fields: dict):
        return self.request("POST", path, urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})


def multipart(field_name: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- the SMS outbox --------------------------------------------------------------------------

class Outbox:
    """Follows the console gateway's file: the codes each mobile number was sent."""

    def __init__(self, path: Path):
        self.path, self.codes, self.cond = path, {}, threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self):
        self.path.touch()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(5)

    def _follow(self):
        with open(self.path, encoding="utf-8") as fh:
            partial = ""
            while not self.stopping:
                chunk = fh.read()
                if not chunk:
                    time.sleep(0.05)
                    continue
                partial += chunk
                lines = partial.split("\n")
                partial = lines.pop()
                with self.cond:
                    for line in lines:
                        parts = line.split("\t")
                        match = CODE_RE.search(parts[-1]) if len(parts) >= 5 else None
                        if match:
                            self.codes.setdefault(parts[3].removeprefix("+86"), []).append(match.group(1))
                    self.cond.notify_all()

    def wait_code(self, phone: str, already: int, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.codes.get(phone, [])) <= already:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.codes[phone][already]

    def sent_to(self, phone: str) -> int:
        with self.cond:
            return len(self.codes.get(phone, []))


# --- the clients -----------------------------------------------------------------------------

def clerk(base: str, token: str, uid: int, files: dict, passes: int, results: Results) -> None:
    browser = Browser(base, results, timeout=600)
    for p in range(passes):
        body, content_type = multipart("file", f"农户名册{p}.xlsx", files[(uid, p)].read_bytes())
        started = time.perf_counter()
        status, text, _ = browser.request("POST", "/api/v1/households/import", body,
                                          {"Authorization": f"Bearer {token}", "Content-Type": content_type})
        seconds = time.perf_counter() - started
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        with results.lock:
            results.imports.append({"clerk": uid, "pass": p, "status": status, "seconds": seconds,
                                    "created": answer.get("created"), "updated": answer.get("updated"),
                                    "error": None if status == 200 else text[:300]})


def farmer_loop(base: str, next_farmer, outbox: Outbox, results: Results, code_timeout: float) -> None:
    while True:
        who = next_farmer()
        if who is None:
            return
        id_number, phone = who
        browser = Browser(base, results)
        started = time.perf_counter()
        entry = {"ok": False, "stage": "page", "seconds": None, "code_seconds": None}
        status, text, _ = browser.request("GET", "/m/login")
        token = CSRF_RE.search(text)
        if status == 200 and token:
            entry["stage"] = "request"
            before = outbox.sent_to(phone)
            asked = time.perf_counter()
            status, text, _ = browser.form("/m/login", {"csrf_token": token.group(1), "mode": "login",
                                                        "next": "/m/me", "id_number": id_number, "phone": phone})
            token = CSRF_RE.search(text)
            if status == 200 and token:
                entry["stage"] = "code"
                code = outbox.wait_code(phone, before, code_timeout)
                if code is not None:
                    entry["code_seconds"] = time.perf_counter() - asked
                    entry["stage"] = "verify"
                    status, _text, location = browser.form("/m/login/code", {"csrf_token": token.group(1),
                                                                             "code": code})
                    if status == 302 and location.endswith("/m/me"):
                        entry["stage"] = "me"
                        status, text, _ = browser.request("GET", "/m/me")
                        if status == 200 and "我的补贴" in text:
                            entry["ok"], entry["stage"] = True, "done"
        entry["seconds"] = time.perf_counter() - started
        with results.lock:
            results.signins.append(entry)


# --- the run ---------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=None, help="a new SQLite file (default: in a temporary directory)")
    parser.add_argument("--small", action="store_true", help="CI: 200-row files, 4 farmers at a time")
    parser.add_argument("--clerks", type=int, default=10)
    parser.add_argument("--rows", type=int, default=None,
                        help="rows of each clerk's file (default 10,000; --small 200)")
    parser.add_argument("--imports", type=int, default=2, help="imports per clerk: create, then update (default 2)")
    parser.add_argument("--farmers", type=int, default=None,
                        help="farmers signing in at a time (default 20; --small 4)")
    parser.add_argument("--per-village", type=int, default=None,
                        help="demo households a village (default 50; --small 10)")
    parser.add_argument("--signins", type=int, default=None,
                        help="farmers keep signing in until the imports are done and this many tried (default: "
                             "2 a farmer at a time)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, files)")
    args = parser.parse_args(argv)
    small = args.small
    rows = args.rows or (200 if small else 10_000)
    concurrent = args.farmers or (4 if small else 20)
    per_village = args.per_village or (10 if small else 50)

    work = Path(tempfile.mkdtemp(prefix="bench_load_imports_"))
    url = args.database_url or f"sqlite:///{work}/load.sqlite3"
    if not url.startswith("sqlite:///"):
        print("this load test is about SQLite's one write lock: give it a SQLite URL", file=sys.stderr)
        return 2
    if Path(url.removeprefix("sqlite:///")).exists():
        print(f"{url} exists: the load test makes its own database", file=sys.stderr)
        return 2
    secret = secrets.token_hex(32)
    outbox_path = work / "sms-outbox.log"
    size = f"{args.clerks} clerks × {rows:,} rows × {args.imports}, {concurrent} farmers at a time"
    try:
        started = time.perf_counter()
        cast = prepare(url, secret, args.clerks, per_village, args.seed)
        files = import_files(cast, rows, args.imports, work)
        print(f"load bench (imports): SQLite; demo county ({len(cast.farmers):,} farmers with a phone outside the "
              f"clerks' villages), {size}; prepared in {time.perf_counter() - started:.0f} s")
        report = run(args, url, secret, cast, files, work, outbox_path, rows, concurrent, small, size)
        if args.json:
            Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1))
        return 0 if report["passed"] else 1
    finally:
        if args.keep:
            print(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args, url, secret, cast: Cast, files, work: Path, outbox_path: Path, rows: int, concurrent: int,
        small: bool, size: str) -> dict:
    results = Results()
    server_log, worker_log = work / "gunicorn.log", work / "worker.log"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret, "PYTHONPATH": str(ROOT),
           "SMS_GATEWAY": "console", "SMS_OUTBOX_FILE": str(outbox_path), "SMS_POLL_SECONDS": "0.2"}
    server = Server(url, secret, args.workers, "gthread", args.threads, server_log)
    with server, Outbox(outbox_path) as outbox, open(worker_log, "ab") as worker_out:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "subsidy", "sms", "worker"], cwd=ROOT,
                                  env=env, stdout=worker_out, stderr=subprocess.STDOUT, start_new_session=True)
        queue = list(cast.farmers)
        queue_lock = threading.Lock()

        at_least = args.signins if args.signins is not None else 2 * concurrent
        handed = [0]

        def next_farmer():
            with queue_lock:
                if done.is_set() and handed[0] >= at_least or not queue:
                    return None
                handed[0] += 1
                return queue.pop()

        done = threading.Event()
        began = time.perf_counter()
        clerks = [threading.Thread(target=clerk,
                                   args=(server.base, cast.tokens[uid], uid, files, args.imports, results))
                  for uid, _village in cast.clerks]
        farmers = [threading.Thread(target=farmer_loop, args=(server.base, next_farmer, outbox, results, 120.0))
                   for _ in range(concurrent)]
        for t in farmers + clerks:
            t.start()
        for t in clerks:
            t.join()
        imports_seconds = time.perf_counter() - began
        done.set()
        for t in farmers:
            t.join(180)
        # Let the worker drain what is queued, then ask it to stop, as systemd would.
        deadline = time.monotonic() + 60
        while queue_left(url) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = queue_left(url)
        exited_early = worker.poll() is not None
        if not exited_early:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        locked_server = server.log_count(LOCKED)
        tracebacks_server = server.log_count("Traceback")
        describe = server.describe
    worker_text = worker_log.read_text(errors="replace")
    locked_worker = worker_text.count(LOCKED)
    locked = locked_server + locked_worker + results.locked_in_answers
    exits = 1 if exited_early else 0

    imports = results.imports
    ok_imports = [i for i in imports if i["status"] == 200]
    import_times = [i["seconds"] for i in ok_imports]
    written = sum((i["created"] or 0) + (i["updated"] or 0) for i in ok_imports)
    signins = results.signins
    ok_signins = [s for s in signins if s["ok"]]
    failed_stages = {}
    for s in signins:
        if not s["ok"]:
            failed_stages[s["stage"]] = failed_stages.get(s["stage"], 0) + 1
    signin_times = [s["seconds"] for s in ok_signins]
    code_times = [s["code_seconds"] for s in ok_signins if s["code_seconds"] is not None]
    server_errors = sum(v for k, v in results.statuses.items() if k.startswith("5"))
    passed = locked == 0 and exits == 0 and len(ok_imports) == len(imports) == args.clerks * args.imports \
        and bool(ok_signins) and not failed_stages and server_errors == 0 and left == 0

    report = {
        "size": size, "server": describe, "seconds": imports_seconds,
        "locked": locked, "locked_in_server_log": locked_server, "locked_in_worker_log": locked_worker,
        "locked_in_answers": results.locked_in_answers, "worker_exits": exits,
        "worker_exit_code": worker.returncode, "tracebacks_in_server_log": tracebacks_server,
        "tracebacks_in_worker_log": worker_text.count("Traceback"),
        "imports": {"done": len(ok_imports), "expected": args.clerks * args.imports, "failed": [
            i for i in imports if i["status"] != 200], "rows_written": written,
            "p50_s": pct(import_times, 0.5), "max_s": max(import_times, default=None),
            "rows_per_s": written / imports_seconds if imports_seconds else None},
        "signins": {"completed": len(ok_signins), "failed": failed_stages, "p50_s": pct(signin_times, 0.5),
                    "p95_s": pct(signin_times, 0.95), "code_p50_s": pct(code_times, 0.5),
                    "code_p95_s": pct(code_times, 0.95)},
        "sms_left": left, "statuses": results.statuses, "server_errors": server_errors, "passed": passed,
    }
    print_report(report, small)
    judge = (lambda ok: None) if small else (lambda ok: bool(ok))
    figures = [
        Figure("sqlite_import_locked", "SQLite: imports + sign-ins + SMS worker, “database is locked”", locked,
               "errors", "0", judge(locked == 0), note=f"{size}; {describe}", size=size),
        Figure("sqlite_import_worker_exits", "SQLite: imports + sign-ins, SMS worker exits", exits, "exits", "0",
               judge(exits == 0), note=f"{size}; {describe}", size=size),
    ]
    if signin_times:
        figures.append(Figure("sqlite_import_signin_p95", "SQLite: farmer sign-in (code by SMS) p95 during imports",
                              report["signins"]["p95_s"] * 1000, "ms", "—", None,
                              note=f"{len(ok_signins)} sign-ins; code delivered p95 "
                                   f"{report['signins']['code_p95_s']:.1f} s", size=size))
    for figure in figures:
        record(figure)
    report["figures"] = [asdict(f) for f in figures]
    return report


def print_report(r: dict, small: bool) -> None:
    def s(v):
        return "—" if v is None else f"{v:,.1f} s"

    imp, sig = r["imports"], r["signins"]
    print(f"\n  {r['size']}; {r['server']}; the imports took {r['seconds']:.0f} s")
    print(f"  imports: {imp['done']}/{imp['expected']} answered 200, {imp['rows_written']:,} rows written "
          f"({imp['rows_per_s'] or 0:,.0f} rows/s over the run); each: p50 {s(imp['p50_s'])}, max {s(imp['max_s'])}")
    for f in imp["failed"]:
        print(f"    FAILED import: clerk {f['clerk']} pass {f['pass']}: {f['status']} {f['error']}")
    print(f"  farmer sign-ins: {sig['completed']} completed, failed {sig['failed'] or 0}; whole sign-in p50 "
          f"{s(sig['p50_s'])}, p95 {s(sig['p95_s'])}; the code's SMS arrived p50 {s(sig['code_p50_s'])}, "
          f"p95 {s(sig['code_p95_s'])}")
    print(f"  SMS left unsent after the drain: {r['sms_left']}; answers by status: {r['statuses']}")
    print(f"  “database is locked”: {r['locked']} (server log {r['locked_in_server_log']}, worker log "
          f"{r['locked_in_worker_log']}, answers {r['locked_in_answers']}); SMS worker exits: {r['worker_exits']} "
          f"(exit code after SIGTERM {r['worker_exit_code']}); tracebacks: server {r['tracebacks_in_server_log']}, "
          f"worker {r['tracebacks_in_worker_log']}")
    verdict = "not judged (small)" if small else ("met" if r["passed"] else "NOT met")
    print(f"  targets (0 locked, 0 worker exits, every import and sign-in through): {verdict}"
          + ("" if r["passed"] else "  [run incomplete or failing: see above]"))


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: a county-wide broadcast (群发通知) enqueued and drained through a fake Twilio.

    python bench/bench_sms.py [N] [--database-url URL] [--reset] [--workers K] [--bare M] [--runs R]

Without a URL (or DATABASE_URL in the environment) a fresh SQLite file in a temporary
directory is used. A PostgreSQL database must be empty, or be named with --reset, which DROPS
its public schema: point it at a scratch database only.

It builds the schema through the migrations, loads the demo regions (105 villages), inserts
N households with phones in bulk, starts the fake Twilio (tools.fake_twilio) in its
own process, and then, R times (the machine is noisy: medians count):
  enqueue   the county admin's broadcast to all N households (one INSERT … SELECT), committed
  drain     the worker (`Worker().run_once()`, what `flask sms worker --once` runs), K
            processes (K > 1 needs PostgreSQL), sending every message with the real twilio
            client over HTTP to the fake: from a start signal to the last worker's end
  bare      M calls of client.messages.create to the same fake in a loop, split over K
            processes like the workers, half just before the drain and half just after:
            the floor the worker's bookkeeping (claim, lease, checks, recorded results) is
            compared with
Like with like: both sides are separate processes started and warmed up before the clock
starts (the interpreter's start and the app's import are not timed), both use one twilio
client (one kept-alive HTTP session) per process and one call at a time, same body, same
status callback URL, against the same fake. It checks that every household got exactly one
message each run (the fake counts what it created), and records the figure "sms_worker"
(median worker rate ÷ median bare rate; the ratio is the median of the per-run ratios).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_households import prepare_database  # noqa: E402

BODY = "本周六上午9点在村委会召开耕地地力保护补贴政策宣讲会，请户主准时参加。"


def start_fake() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tools.fake_twilio", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("FAKE_TWILIO_URL "):
        proc.kill()
        sys.exit(f"fake Twilio did not start: {line!r}")
    return proc, line.split()[1]


def insert_households(db, n: int, villages: list[str]) -> None:
    from subsidy.households.models import Household

    now = datetime.now(UTC)
    chunk = 5000
    for start in range(0, n, chunk):
        db.session.execute(sa.insert(Household), [
            {"region_code": villages[i % len(villages)], "head_name": f"农户{i}", "id_number": f"B{i:017d}",
             "phone": f"139{i:08d}", "payout_account": None, "members": 1 + i % 6, "land_area_mu": 10,
             "created_at": now, "updated_at": now} for i in range(start, min(n, start + chunk))])
    db.session.commit()


def _child_env(settings: dict) -> dict:
    return {**os.environ, **{k: str(v) for k, v in settings.items()}, "FLASK_APP": "subsidy", "PYTHONPATH": str(ROOT)}


def _timed_children(kind: str, count: int, env: dict, extra: list[str]) -> tuple[float, list[dict]]:
    """Start `count` children of this script (`--child kind`), wait until each is ready, start
    them at once and return (seconds from the start signal to the last one's end, their reports)."""
    procs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", kind, *extra], cwd=ROOT,
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(count)]
    for p in procs:
        line = "-"
        while line and line.strip() != "ready":  # anything an import prints first is skipped
            line = p.stdout.readline()
        if not line:
            for q in procs:
                q.kill()
            sys.exit(f"{kind} child did not start")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            sys.exit(f"{kind} child failed ({p.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return max(r["seconds"] for r in reports), reports


def _child(kind: str, calls: int, batch_size: int) -> None:
    """One timed process: the worker's pass, or `calls` bare client calls. Prints "ready",
    waits for "go" on stdin, runs, and prints a JSON line with its own time."""
    if kind == "worker":
        from subsidy import create_app
        from subsidy.notify.worker import Worker

        app = create_app()
        with app.app_context():
            worker = Worker(batch_size=batch_size)
            print("ready", flush=True)
            sys.stdin.readline()
            t = time.perf_counter()
            stats = worker.run_once()
            seconds = time.perf_counter() - t
        print(json.dumps({"seconds": seconds, "sent": stats.sent, "stats": str(stats)}), flush=True)
        return
    from twilio.rest import Client

    from subsidy.notify.gateways import _twilio_http_client_class

    base = os.environ["PUBLIC_BASE_URL"].rstrip("/")
    client = Client(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"],
                    http_client=_twilio_http_client_class()(os.environ["TWILIO_BASE_URL"], timeout=10))
    print("ready", flush=True)
    sys.stdin.readline()
    t = time.perf_counter()
    for i in range(calls):
        client.messages.create(to=f"+86139{i:08d}", body=BODY, from_=os.environ["TWILIO_FROM_NUMBER"],
                               status_callback=f"{base}/sms/status?m={i}")
    print(json.dumps({"seconds": time.perf_counter() - t, "sent": calls}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=50_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 needs PostgreSQL)")
    parser.add_argument("--bare", type=int, default=None, help="calls in the bare client loop (default min(N, 5000))")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="broadcast, drain and bare loop this many times")
    parser.add_argument("--child", choices=("worker", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.calls, args.batch_size)
    tmp = tempfile.mkdtemp(prefix="bench_sms_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    if args.workers > 1 and not url.startswith("postgresql"):
        sys.exit("several workers need PostgreSQL (SQLite: one worker)")
    prepare_database(url, args.reset)
    fake_proc, fake_url = start_fake()

    from flask_migrate import upgrade

    from bench.report import Figure, at_least, record
    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.demo import load_demo
    from subsidy.extensions import db
    from subsidy.notify.broadcast import create_broadcast
    from subsidy.notify.models import Message, MessageStatus
    from subsidy.regions.models import Level, Region
    from tools.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

    settings = {"DATABASE_URL": url, "SECRET_KEY": "bench", "SMS_GATEWAY": "twilio",
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_BASE_URL": fake_url,
                "TWILIO_FROM_NUMBER": "+15005550006", "SMS_BATCH_SIZE": str(args.batch_size),
                "PUBLIC_BASE_URL": "https://huinong.example.gov.cn"}
    app = create_app({**settings, "TESTING": True, "SMS_BATCH_SIZE": args.batch_size})
    env = _child_env(settings)
    bare_n = args.bare or min(args.n, 5000)
    per_bare = max(2, bare_n // args.workers)
    figures: dict[str, str] = {}
    enqueue_s, worker_rates, bare_rates, ratios, problems = [], [], [], [], []
    try:
        with app.app_context():
            upgrade()
            load_demo(households_per_village=0)
            db.session.commit()
            villages = list(db.session.scalars(sa.select(Region.code).where(
            # the demo county (the demo city's other counties are not the benchmark's)
            Region.level == Level.village, Region.code.like("640425%"))))
            t = time.perf_counter()
            insert_households(db, args.n, villages)
            figures["households"] = f"{args.n} inserted in {time.perf_counter() - t:.2f} s"
            dialect = db.engine.dialect.name
            db.session.remove()

        for run in range(1, args.runs + 1):
            with app.app_context():
                admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
                t = time.perf_counter()
                broadcast = create_broadcast(admin, "640425", BODY)
                db.session.commit()
                enqueue_s.append(time.perf_counter() - t)
                assert broadcast.messages == args.n, broadcast.messages
                broadcast_id, segments = broadcast.id, broadcast.segments_each
                db.session.remove()

            # Half the bare calls just before the drain and half just after: the machine's load
            # drifts, and this way the drift weighs on both sides alike.
            bare_before, _ = _timed_children("bare", args.workers, env, ["--calls", str(per_bare // 2)])
            requests.post(f"{fake_url}/_fake/reset", timeout=10)
            drain_s, reports = _timed_children("worker", args.workers, env, ["--batch-size", str(args.batch_size)])
            stats = requests.get(f"{fake_url}/_fake/stats", timeout=10).json()
            requests.post(f"{fake_url}/_fake/reset", timeout=10)
            with app.app_context():
                statuses = dict(db.session.execute(
                    sa.select(Message.status, sa.func.count()).where(Message.broadcast_id == broadcast_id)
                    .group_by(Message.status)).all())
                max_calls = db.session.scalar(sa.select(sa.func.max(Message.provider_calls))
                                              .where(Message.broadcast_id == broadcast_id))
                db.session.remove()
            sent = statuses.get(MessageStatus.sent, 0)
            if sent != args.n or stats["creates"] != args.n or stats["duplicates"]:
                problems.append(f"run {run}: sent {sent}, provider messages {stats['creates']}, "
                                f"duplicates {stats['duplicates']}, lost {args.n - sent}")

            bare_after, _ = _timed_children("bare", args.workers, env, ["--calls", str(per_bare - per_bare // 2)])
            requests.post(f"{fake_url}/_fake/reset", timeout=10)
            bare_s = bare_before + bare_after
            worker_rate, bare_rate = args.n / drain_s, per_bare * args.workers / bare_s
            worker_rates.append(worker_rate)
            bare_rates.append(bare_rate)
            ratios.append(worker_rate / bare_rate)
            print(f"  run {run}: drain {drain_s:6.2f} s {worker_rate:6.0f} msg/s | bare {bare_s:6.2f} s "
                  f"{bare_rate:6.0f} msg/s | ratio {worker_rate / bare_rate:.2f} | max provider calls {max_calls} | "
                  + " | ".join(r["stats"].split(", ")[1] for r in reports), flush=True)
    finally:
        fake_proc.kill()

    worker_rate, bare_rate, ratio = (statistics.median(x) for x in (worker_rates, bare_rates, ratios))
    enqueue = statistics.median(enqueue_s)
    figures["enqueue"] = f"{enqueue:7.3f} s  {args.n / enqueue:9.0f} messages/s  ({segments} segment(s) each)"
    figures["drain"] = f"{args.n / worker_rate:7.3f} s  {worker_rate:9.0f} messages/s  ({args.workers} worker(s))"
    figures["bare"] = f"{per_bare * args.workers / bare_rate:7.3f} s  {bare_rate:9.0f} messages/s  " \
                      f"({per_bare} calls of client.messages.create × {args.workers} process(es))"
    figures["result"] = "every run: each household got exactly one message" if not problems else "; ".join(problems)
    figures["ratio"] = f"worker {ratio:.2f} × the bare client loop (median of {args.runs} runs: " + \
                       ", ".join(f"{r:.2f}" for r in ratios) + ")"
    print(f"sms bench: N={args.n} households, {dialect}, batch {args.batch_size}, fake Twilio in its own process, "
          f"medians of {args.runs} run(s)")
    for label, text in figures.items():
        print(f"  {label:<10} {text}")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (bench process)")
    record(Figure(key="sms_worker", label="SMS worker ÷ bare client loop", value=round(worker_rate, 1),
                  baseline=round(bare_rate, 1), ratio=round(ratio, 3), unit="msg/s", target="≥ 0.7",
                  met=at_least(ratio, 0.7) if args.n >= 1000 else None,
                  note=f"{args.workers} worker process(es) vs as many bare loops; ratio = median of per-run ratios",
                  size=f"{args.n} messages × {args.runs} runs, batch {args.batch_size}"))
    assert not problems, "messages lost or duplicated"


if __name__ == "__main__":
    main()

"""Benchmark: a county-wide broadcast (群发通知) enqueued and drained through a fake Twilio.

    python bench/bench_sms.py [N] [--database-url URL] [--reset] [--workers K] [--bare M]

Without a URL (or DATABASE_URL in the environment) a fresh SQLite file in a temporary
directory is used. A PostgreSQL database must be empty, or be named with --reset, which DROPS
its public schema: point it at a scratch database only.

It builds the schema through the migrations, loads the demo regions (105 villages), inserts
N households with phones in bulk, starts the fake Twilio (subsidy.notify.fake_twilio) in its
own process, and times:
  enqueue   the county admin's broadcast to all N households (one INSERT … SELECT), committed
  drain     the worker (`flask sms worker --once`, K processes; K > 1 needs PostgreSQL)
            sending every message with the real twilio client over HTTP to the fake
  bare      M calls of client.messages.create to the same fake in a loop: the floor the
            worker's bookkeeping (claim, lease, per-message result) is compared with
It checks that every household got exactly one message (the fake counts what it created).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_households import prepare_database  # noqa: E402

BODY = "本周六上午9点在村委会召开耕地地力保护补贴政策宣讲会，请户主准时参加。"


def start_fake() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "subsidy.notify.fake_twilio", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("FAKE_TWILIO_URL "):
        proc.kill()
        sys.exit(f"fake Twilio did not start: {line!r}")
    return proc, line.split()[1]


def insert_households(db, n: int, villages: list[str]) -> None:
    from subsidy.households.models import Household

    now = datetime.now(timezone.utc)
    chunk = 5000
    for start in range(0, n, chunk):
        db.session.execute(sa.insert(Household), [
            {"region_code": villages[i % len(villages)], "head_name": f"农户{i}", "id_number": f"B{i:017d}",
             "phone": f"139{i:08d}", "payout_account": None, "members": 1 + i % 6, "land_area_mu": 10,
             "created_at": now, "updated_at": now} for i in range(start, min(n, start + chunk))])
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", nargs="?", type=int, default=50_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--reset", action="store_true", help="drop the PostgreSQL public schema first")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 needs PostgreSQL)")
    parser.add_argument("--bare", type=int, default=None, help="calls in the bare client loop (default min(N, 5000))")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_sms_")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    if args.workers > 1 and not url.startswith("postgresql"):
        sys.exit("several workers need PostgreSQL (SQLite: one worker)")
    prepare_database(url, args.reset)
    fake_proc, fake_url = start_fake()

    from flask_migrate import upgrade

    from subsidy import create_app
    from subsidy.accounts.models import User
    from subsidy.demo import load_demo
    from subsidy.extensions import db
    from subsidy.notify.broadcast import create_broadcast
    from subsidy.notify.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
    from subsidy.notify.models import Message, MessageStatus
    from subsidy.regions.models import Level, Region

    settings = {"DATABASE_URL": url, "SECRET_KEY": "bench", "SMS_GATEWAY": "twilio",
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_BASE_URL": fake_url,
                "TWILIO_FROM_NUMBER": "+15005550006", "SMS_BATCH_SIZE": str(args.batch_size),
                "PUBLIC_BASE_URL": "https://huinong.example.gov.cn"}
    app = create_app({**settings, "TESTING": True, "SMS_BATCH_SIZE": args.batch_size})
    figures: dict[str, str] = {}
    try:
        with app.app_context():
            upgrade()
            load_demo(households_per_village=0)
            db.session.commit()
            villages = list(db.session.scalars(sa.select(Region.code).where(Region.level == Level.village)))
            admin = db.session.scalars(sa.select(User).where(User.username == "admin")).one()
            t = time.perf_counter()
            insert_households(db, args.n, villages)
            figures["households"] = f"{args.n} inserted in {time.perf_counter() - t:.2f} s"
            dialect = db.engine.dialect.name

            t = time.perf_counter()
            broadcast = create_broadcast(admin, "640425", BODY)
            db.session.commit()
            enqueue_s = time.perf_counter() - t
            assert broadcast.messages == args.n, broadcast.messages
            figures["enqueue"] = f"{enqueue_s:7.3f} s  {args.n / enqueue_s:9.0f} messages/s  " \
                                 f"({broadcast.segments_each} segment(s) each)"
            db.session.remove()

        env = {**os.environ, **settings, "FLASK_APP": "subsidy", "PYTHONPATH": str(ROOT)}
        t = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "sms", "worker", "--once",
                                     "--batch-size", str(args.batch_size)], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(args.workers)]
        outputs = [w.communicate() for w in workers]
        drain_s = time.perf_counter() - t
        for w, (out, err) in zip(workers, outputs):
            if w.returncode:
                sys.exit(f"worker failed ({w.returncode}): {err[-2000:]}")
        worker_rate = args.n / drain_s
        figures["drain"] = f"{drain_s:7.3f} s  {worker_rate:9.0f} messages/s  ({args.workers} worker(s); " + \
            " | ".join(o.strip().split(", ")[1] for o, _ in outputs) + ")"

        stats = requests.get(f"{fake_url}/_fake/stats", timeout=10).json()
        with app.app_context():
            statuses = dict(db.session.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status)).all())
            max_calls = db.session.scalar(sa.select(sa.func.max(Message.provider_calls)))
        sent = statuses.get(MessageStatus.sent, 0)
        figures["result"] = (f"sent {sent}, provider messages {stats['creates']}, duplicates {stats['duplicates']}, "
                             f"lost {args.n - sent}, max provider calls per message {max_calls}")

        from twilio.rest import Client

        from subsidy.notify.gateways import _twilio_http_client_class

        bare_n = args.bare or min(args.n, 5000)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=_twilio_http_client_class()(fake_url, timeout=10))
        t = time.perf_counter()
        for i in range(bare_n):
            client.messages.create(to=f"+86139{i:08d}", body=BODY, from_="+15005550006",
                                   status_callback=f"https://huinong.example.gov.cn/sms/status?m={i}")
        bare_s = time.perf_counter() - t
        bare_rate = bare_n / bare_s
        figures["bare"] = f"{bare_s:7.3f} s  {bare_rate:9.0f} messages/s  ({bare_n} calls of client.messages.create)"
        figures["ratio"] = f"worker {worker_rate / bare_rate:.2f} × the bare client loop"
    finally:
        fake_proc.kill()

    print(f"sms bench: N={args.n} households, {dialect}, batch {args.batch_size}, fake Twilio in its own process")
    for label, text in figures.items():
        print(f"  {label:<10} {text}")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (bench process)")
    assert sent == args.n and stats["duplicates"] == 0, "messages lost or duplicated"


if __name__ == "__main__":
    main()

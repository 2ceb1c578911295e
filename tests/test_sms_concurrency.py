"""Several workers on PostgreSQL never send a message twice because of each other (issue 3:
"three workers on PostgreSQL draining 3,000 messages send each exactly once"). SQLite runs
one worker (its claim is atomic, but the database has one writer), so this is PostgreSQL only."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from subsidy.notify.models import Message, MessageStatus
from subsidy.notify.outbox import enqueue_bulk
from subsidy.notify.worker import Stats
from tests.sms_fixtures import fake, make_worker, sms_transitions_guarded, twilio  # noqa: F401

N_MESSAGES = 3000
N_WORKERS = 3


@pytest.mark.slow
def test_three_workers_drain_3000_messages_each_sent_exactly_once(app, db, county, twilio):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several workers side by side need PostgreSQL (SKIP LOCKED); SQLite runs one")
    enqueue_bulk("test", [{"key": f"load:{i}", "phone": f"139{i:08d}", "region_code": "640425100201",
                           "context": {"body": f"第{i}条"}} for i in range(N_MESSAGES)])
    db.session.commit()

    results: dict[str, Stats] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(N_WORKERS)

    def run(name: str) -> None:
        try:
            with app.app_context():  # its own session and connection
                worker = make_worker(owner=name, batch_size=25)
                start.wait()
                results[name] = worker.run_once()
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"worker-{i}",)) for i in range(N_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors

    creates = twilio.creates_by_message()
    sent = sum(s.sent for s in results.values())
    duplicates = sum(n - 1 for n in creates.values())
    db.session.expire_all()
    statuses = dict(db.session.execute(sa.select(Message.status, sa.func.count()).group_by(Message.status)).all())
    lost = N_MESSAGES - statuses.get(MessageStatus.sent, 0)
    print(f"\n{N_WORKERS} workers: sent {sent}, provider messages {len(twilio.creates)}, duplicates {duplicates}, "
          f"lost {lost}; per worker " + ", ".join(f"{k}: {v.sent}" for k, v in sorted(results.items())))
    assert sent == N_MESSAGES and len(creates) == N_MESSAGES and duplicates == 0 and lost == 0
    assert statuses == {MessageStatus.sent: N_MESSAGES}
    assert db.session.scalar(sa.select(sa.func.max(Message.provider_calls))) == 1
    assert sum(1 for s in results.values() if s.sent) >= 2  # they really worked side by side

"""The worker against a fake Twilio over real HTTP, with the real `twilio` client (issue 3
"What it must show"): sent once; 500 then success; 21211 stops at once; a killed worker
loses nothing; retries back off with full jitter; pause and opt-outs stop sending."""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from subsidy.notify import gateways
from subsidy.notify.models import Message, MessageStatus, OptOut
from subsidy.notify.service import set_paused
from subsidy.notify.worker import Stats
from tests.factories import HouseholdFactory, OptOutFactory, make_user
from tests.sms_fixtures import (  # noqa: F401
    PUBLIC,
    T0,
    all_messages,
    e164,
    fake,
    make_worker,
    owe,
    reload,
    sms_transitions_guarded,
    twilio,
)

S = MessageStatus


def test_a_message_is_sent_once(db, county, twilio):
    household = HouseholdFactory(head_name="李四")
    message = owe(household)
    stats = make_worker().run_once()
    assert (stats.claimed, stats.sent, stats.ambiguous) == (1, 1, 0)
    assert twilio.creates_by_message() == {str(message.id): 1}
    created = twilio.creates[0]
    assert created["to"] == e164(household.phone)
    assert created["body"] == message.body and created["from"] == "+15005550006"
    assert created["status_callback"] == f"{PUBLIC}/sms/status?m={message.id}"
    sent = reload(message.id)
    assert (sent.status, sent.provider_sid, sent.attempts, sent.provider_calls) == (S.sent, created["sid"], 1, 1)
    assert sent.lease_owner is None and sent.sent_at is not None
    # A second pass finds nothing to do.
    assert make_worker().run_once().claimed == 0
    assert len(twilio.creates) == 1


def test_500_then_success_the_farmer_gets_one(db, county, twilio):
    message = owe(HouseholdFactory())
    twilio.fail_next("server_error")
    with time_machine.travel(T0, tick=False) as clock:
        stats = make_worker().run_once()
        assert (stats.sent, stats.retried, stats.ambiguous) == (0, 1, 1)
        waiting = reload(message.id)
        assert waiting.status == S.queued and waiting.error_code == "http_500"
        assert T0 < waiting.next_attempt_at <= T0 + timedelta(seconds=30)
        assert make_worker().run_once().claimed == 0  # not due yet
        clock.shift(31)
        assert make_worker().run_once().sent == 1
    done = reload(message.id)
    assert done.status == S.sent and done.attempts == 2 and done.error_code is None
    assert twilio.creates_by_message()[str(message.id)] == 1
    # The 500 might have created a message: counted, so a duplicate could never go unreported.
    assert done.provider_calls == 2 and done.possible_duplicate


def test_500_after_the_provider_created_it_is_a_counted_duplicate(db, county, twilio):
    message = owe(HouseholdFactory())
    twilio.fail_next("server_error_after_create")
    with time_machine.travel(T0, tick=False) as clock:
        make_worker().run_once()
        clock.shift(31)
        make_worker().run_once()
    done = reload(message.id)
    actual_duplicates = twilio.creates_by_message()[str(message.id)] - 1
    assert done.status == S.sent and actual_duplicates == 1
    assert done.provider_calls - 1 == actual_duplicates  # counted, not hidden


def test_21211_invalid_number_stops_at_once_with_the_reason(db, county, twilio):
    household = HouseholdFactory()
    message = owe(household)
    twilio.fail_for(e164(household.phone), "invalid_number")
    with time_machine.travel(T0, tick=False) as clock:
        stats = make_worker().run_once()
        clock.shift(3600 * 24)
        make_worker().run_once()
    assert stats.failed == 1
    failed = reload(message.id)
    assert (failed.status, failed.error_code, failed.attempts, failed.provider_calls) == (S.failed, "21211", 1, 0)
    assert "手机号码无效" in failed.error_message and failed.problem_kind == "号码有误" and failed.needs_new_phone
    assert len([r for r in twilio.requests if r["method"] == "POST"]) == 1  # never retried


def test_21610_unsubscribed_records_the_opt_out(db, county, twilio):
    household = HouseholdFactory()
    message = owe(household)
    twilio.fail_next("unsubscribed")
    make_worker().run_once()
    assert reload(message.id).status == S.cancelled
    opt_out = db.session.get(OptOut, household.phone)
    assert opt_out is not None and opt_out.source == "provider"
    # The next event for this farmer is not even attempted.
    later = owe(household, key="payment_paid:1:1", template="receipt_check")
    assert later.status == S.cancelled


def test_other_permanent_errors_stop_at_once(db, county, twilio):
    a, b = owe(HouseholdFactory(), key="a"), owe(HouseholdFactory(), key="b")
    twilio.fail_next("not_mobile")
    twilio.fail_next("too_long")
    make_worker().run_once()
    assert {reload(a.id).error_code, reload(b.id).error_code} == {"21614", "21617"}
    assert {reload(a.id).status, reload(b.id).status} == {S.failed}


def test_429_is_retried_and_is_not_a_possible_duplicate(db, county, twilio):
    message = owe(HouseholdFactory())
    twilio.fail_next("rate_limit")
    with time_machine.travel(T0, tick=False) as clock:
        assert make_worker().run_once().retried == 1
        assert reload(message.id).provider_calls == 0
        clock.shift(31)
        make_worker().run_once()
    assert (reload(message.id).status, reload(message.id).provider_calls) == (S.sent, 1)


class _UpperBound(random.Random):
    """Picks the top of every jitter window, and remembers the windows asked for."""

    def __init__(self):
        super().__init__(0)
        self.windows = []

    def uniform(self, a, b):
        self.windows.append((a, b))
        return b


def test_backoff_is_exponential_with_full_jitter_until_max_attempts(db, county, twilio, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_MAX_ATTEMPTS", 4)
    message = owe(HouseholdFactory())
    twilio.fail_next("server_error", times=4)
    rng = _UpperBound()
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(4):
            make_worker(rng=rng).run_once()
            clock.shift(10_000)
    assert rng.windows == [(0, 30), (0, 60), (0, 120)]
    failed = reload(message.id)
    assert (failed.status, failed.attempts) == (S.failed, 4)
    assert failed.error_message.startswith("重试4次仍未发出")
    assert len(twilio.creates) == 0


def test_a_slow_answer_is_retried_and_a_late_callback_prevents_the_duplicate(db, county, twilio, client):
    message = owe(HouseholdFactory())
    twilio.fail_next("slow")  # created at Twilio, answered after the client's timeout
    with time_machine.travel(T0, tick=False) as clock:
        stats = make_worker().run_once()
        assert (stats.retried, stats.ambiguous) == (1, 1)
        assert reload(message.id).error_code == "timeout"
        # Twilio's callback for the message we never heard back about finds it by the id in the URL.
        sid = twilio.creates[0]["sid"]
        assert twilio.post_callback(sid, "delivered", post=client.post).status_code == 204
        clock.shift(3600)
        assert make_worker().run_once().claimed == 0
    done = reload(message.id)
    assert (done.status, done.provider_sid) == (S.delivered, sid)
    assert twilio.creates_by_message()[str(message.id)] == 1


def test_a_dropped_connection_is_retried(db, county, twilio):
    message = owe(HouseholdFactory())
    twilio.fail_next("drop")
    with time_machine.travel(T0, tick=False) as clock:
        stats = make_worker().run_once()
        assert stats.retried == 1 and reload(message.id).error_code == "connection"
        clock.shift(31)
        assert make_worker().run_once().sent == 1
    assert twilio.creates_by_message() == {str(message.id): 1}


def test_a_refused_connection_is_retried_and_cannot_be_a_duplicate(db, county, twilio, app, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_BASE_URL", "http://127.0.0.1:9")  # discard port: nobody listens
    message = owe(HouseholdFactory())
    assert make_worker().run_once().retried == 1
    waiting = reload(message.id)
    assert (waiting.status, waiting.error_code, waiting.provider_calls) == (S.queued, "connection", 0)


def test_a_worker_killed_mid_batch_loses_nothing(db, county, twilio, app):
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(7)]
    lease = app.config["SMS_LEASE_SECONDS"]
    with time_machine.travel(T0, tick=False) as clock:
        dead = make_worker(owner="dead", batch_size=5)
        claimed = dead.claim()  # ... and the process is killed before it sends anything
        assert len(claimed) == 5
        survivor = make_worker(owner="survivor")
        assert survivor.run_once().sent == 2  # only the two nobody holds
        clock.shift(lease + 1)
        assert survivor.run_once().sent == 5  # the dead worker's lease expired
    counts = twilio.creates_by_message()
    assert counts == {str(m.id): 1 for m in messages}
    assert {m.status for m in all_messages()} == {S.sent}


def test_a_batch_is_claimed_and_recorded_in_a_few_statements(db, county, twilio):
    """Issue 8: not 3-4 round trips and a commit per message, but a few per batch."""
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(10)]
    statements, commits = [], []
    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", _remember := lambda conn, cur, sql, *a: statements.append(sql))
    sa.event.listen(engine, "commit", _committed := lambda conn: commits.append(1))
    try:
        stats = make_worker(batch_size=10).run_once()
    finally:
        sa.event.remove(engine, "before_cursor_execute", _remember)
        sa.event.remove(engine, "commit", _committed)
    assert stats.sent == 10 and len(twilio.creates_by_message()) == len(messages)
    updates = [sql for sql in statements if sql.lstrip().upper().startswith("UPDATE SMS_MESSAGES")]
    # reclaim + claim of the batch, one executemany recording all ten, the empty second claim
    # (reclaim + claim), the look-up of stuck messages.
    assert len(updates) == 6, updates
    assert 3 <= len(commits) <= 4  # the claims, the record, the look-up: not one per message


class _Killed(BaseException):
    """The process dies (SIGKILL): nothing after this point runs, `finally` included."""


@pytest.mark.parametrize("callback", [False, True], ids=["no-callback", "callback"])
def test_a_worker_killed_between_a_send_and_its_record(db, county, twilio, app, client, callback):
    """Results are recorded in groups (here after every message, record_every=0): those recorded
    are never sent again; the one the provider accepted but the dead worker never recorded is
    at-least-once: sent again after the lease expires, unless Twilio's callback (which carries
    our id) arrived first and adopted its sid."""
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(6)]
    lease = app.config["SMS_LEASE_SECONDS"]
    with time_machine.travel(T0, tick=False) as clock:
        dead = make_worker(owner="dead", batch_size=6, record_every=0)
        send = dead.gateway.send

        def send_then_die(message_id, *args):
            result = send(message_id, *args)
            if message_id == messages[2].id:
                dead.record_all = lambda *a, **k: 0  # the process is gone: nothing is recorded
                raise _Killed
            return result

        dead.gateway.send = send_then_die
        with pytest.raises(_Killed):
            dead.run_once()
        lost_sid = twilio.creates[-1]["sid"]
        assert [reload(m.id).status for m in messages] == [S.sent, S.sent] + [S.sending] * 4
        if callback:
            assert twilio.post_callback(lost_sid, "sent", post=client.post).status_code == 204
        assert make_worker(owner="early").run_once().claimed == 0  # the lease still holds
        clock.shift(lease + 1)
        assert make_worker(owner="survivor").run_once().sent == (3 if callback else 4)
    counts = twilio.creates_by_message()
    assert {m.id: counts[str(m.id)] for m in messages} == {
        m.id: 2 if (i == 2 and not callback) else 1 for i, m in enumerate(messages)}
    assert {m.status for m in all_messages()} == {S.sent}
    if not callback:
        # The duplicate shows once the first text's (late) callback arrives.
        twilio.post_callback(lost_sid, "delivered", post=client.post)
        assert reload(messages[2].id).possible_duplicate


def test_a_callback_before_the_record_is_one_send_not_a_duplicate(db, county, twilio, client):
    """Twilio may post `sent` for a message before the worker records its own result (results
    are recorded in groups): the callback adopts the sid; the worker's record then finds the
    message already sent with that sid and counts it as sent, once, not as a lost lease."""
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(3)]
    worker = make_worker(batch_size=3, record_every=60)
    send = worker.gateway.send

    def send_then_callback(message_id, *args):
        result = send(message_id, *args)
        if message_id == messages[1].id:
            assert twilio.post_callback(result.sid, "sent", post=client.post).status_code == 204
        return result

    worker.gateway.send = send_then_callback
    stats = worker.run_once()
    assert stats.sent == 3 and stats.lease_lost == 0
    for m in messages:
        done = reload(m.id)
        assert done.status == S.sent and done.provider_calls == 1 and not done.possible_duplicate
    assert set(twilio.creates_by_message().values()) == {1}


def test_a_result_is_recorded_only_by_the_lease_holder(db, county, twilio, app):
    message = owe(HouseholdFactory())
    lease = app.config["SMS_LEASE_SECONDS"]
    with time_machine.travel(T0, tick=False) as clock:
        slow = make_worker(owner="slow")
        [claimed] = slow.claim()
        result = slow.gateway.send(claimed.id, e164(claimed.to_phone), claimed.body,
                                   gateways.callback_url(PUBLIC, claimed.id))
        clock.shift(lease + 1)  # the slow worker stalls past its lease ...
        assert make_worker(owner="other").run_once().sent == 1  # ... and the message is taken over
        stats = Stats()
        assert slow.record(claimed, result, stats) is False
    assert stats.lease_lost == 1
    done = reload(message.id)
    # The other worker's result stands; the stalled call is counted as the duplicate it is.
    assert done.provider_sid == twilio.creates[1]["sid"] and done.provider_calls == 2
    assert twilio.creates_by_message()[str(message.id)] - 1 == done.provider_calls - 1 == 1


def test_pause_stops_sending_and_resume_sends_the_queue(db, county, twilio):
    admin = make_user("county_admin")
    messages = [owe(HouseholdFactory(), key=f"k{i}") for i in range(3)]
    set_paused(admin, True)
    db.session.commit()
    assert make_worker().run_once().claimed == 0
    assert {m.status for m in all_messages()} == {S.queued} and twilio.creates == []
    set_paused(admin, False)
    db.session.commit()
    assert make_worker().run_once().sent == 3
    assert len(twilio.creates_by_message()) == len(messages)


def test_a_pause_after_the_claim_is_honoured_at_send_time(db, county, twilio):
    admin = make_user("county_admin")
    owe(HouseholdFactory(), key="a")
    owe(HouseholdFactory(), key="b")
    worker = make_worker()
    batch = worker.claim()
    set_paused(admin, True)
    db.session.commit()
    stats = Stats()
    worker.process(batch, stats)
    assert stats.released == 2 and twilio.creates == []
    assert {(m.status, m.attempts, m.lease_owner) for m in all_messages()} == {(S.queued, 0, None)}


def test_an_opt_out_recorded_after_enqueue_is_honoured_at_send_time(db, county, twilio):
    household = HouseholdFactory()
    message = owe(household)
    OptOutFactory(phone=household.phone)
    db.session.commit()
    assert make_worker().run_once().cancelled == 1
    assert reload(message.id).status == S.cancelled and twilio.creates == []


def test_a_sign_in_code_the_farmer_asked_for_goes_even_to_an_opted_out_number(db, county, twilio):
    household = HouseholdFactory()
    OptOutFactory(phone=household.phone)
    db.session.commit()
    from subsidy.notify import sealed
    from subsidy.public.models import CodePurpose
    from subsidy.public.signin import request_code

    request_code(purpose=CodePurpose.phone, id_number=None, phone=household.phone, address="10.0.0.1",
                 region_code=household.region_code)
    db.session.commit()
    code = db.session.scalar(sa.select(Message).where(Message.template == "login_code"))
    notice = owe(household, key="filing_approved:1:1")
    assert (code.status, notice.status) == (S.queued, S.cancelled)
    assert make_worker().run_once().sent == 1
    assert [c["m"] for c in twilio.creates] == [str(code.id)]
    # the gateway got the code; the outbox kept it masked
    assert twilio.creates[0]["body"] == code.body.replace(sealed.MASK, sealed.code_for(code.login_code_id))
    assert sealed.MASK in reload(code.id).body


def test_messages_stuck_in_sent_are_looked_up(db, county, twilio, app):
    message = owe(HouseholdFactory())
    stuck = app.config["SMS_STUCK_SENT_SECONDS"]
    with time_machine.travel(T0, tick=False) as clock:
        make_worker().run_once()
        sid = reload(message.id).provider_sid
        assert make_worker().run_once().looked_up == 0  # not stuck yet
        clock.shift(stuck + 1)
        assert make_worker().run_once().looked_up == 1  # Twilio still says "queued": no change
        assert reload(message.id).status == S.sent
        assert make_worker().run_once().looked_up == 0  # asked at most once per period
        twilio.set_status(sid, "undelivered", 30003)
        clock.shift(stuck + 1)
        stats = make_worker().run_once()
    assert (stats.looked_up, stats.status_changes) == (1, 1)
    done = reload(message.id)
    assert (done.status, done.error_code) == (S.undelivered, "30003")
    assert "无法接通" in done.error_message


def test_console_gateway_writes_the_outbox_file(db, county, app):
    assert app.config["SMS_GATEWAY"] == "console"
    household = HouseholdFactory()
    message = owe(household)
    assert make_worker().run_once().sent == 1
    text = Path(app.config["SMS_OUTBOX_FILE"]).read_text(encoding="utf-8")
    assert f"m={message.id}\t{e164(household.phone)}\t{message.body}" in text
    assert reload(message.id).provider_sid.startswith("SMconsole")


def test_worker_cli_once_and_exit_status(db, county, runner):
    household = HouseholdFactory()
    owe(household)
    result = runner.invoke(args=["sms", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert db.session.scalar(sa.select(Message.status)) == S.sent

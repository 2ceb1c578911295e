"""The audit chain against someone who holds the database but not the audit key (security probe,
finding 2): a rewrite with every later hash recomputed, or the newest events deleted, is named
by `flask audit verify` (the key and the checkpoints outside the database)."""
from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from subsidy.audit import checkpoints
from subsidy.audit.models import AuditEvent
from subsidy.audit.service import GENESIS, canonical_json, record
from tests.factories import UserFactory, make_user


@pytest.fixture
def checkpoint_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    return tmp_path / "checkpoints"


def write_events(db, n: int = 8) -> list[int]:
    admin = make_user("county_admin")
    ids = [record(admin, "household.update", "household", i, region_code="640425100201",
                  after={"phone": f"1390954{i:04d}"}).id
           for i in range(n)]
    db.session.commit()
    return ids


def plain_sha256(prev, ev) -> str:
    """What an attacker without the key computes: the old, unkeyed hash."""
    payload = canonical_json([prev, ev.at.isoformat(timespec="microseconds"), ev.actor_id, ev.actor, ev.action,
                              ev.object_type, ev.object_id, ev.region_code, ev.detail])
    return hashlib.sha256(payload.encode()).hexdigest()


def rehash_from(db, first_id: int, digest) -> None:
    """Recompute every hash from `first_id` on, as someone with the database would."""
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    prev = GENESIS
    for ev in events:
        if ev.id >= first_id:
            ev.prev_hash = prev
            ev.hash = digest(prev, ev)
        prev = ev.hash
    db.session.commit()


def verify(runner, *args):
    result = runner.invoke(args=["audit", "verify", *args])
    return result.exit_code, result.output


def test_an_intact_chain_and_its_checkpoints_agree(runner, db, county, checkpoint_dir):
    write_events(db)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    write_events(db, 3)
    code, out = verify(runner)
    assert code == 0 and "1 checkpoint(s) agree" in out, out


def test_a_change_with_every_later_hash_recomputed_is_named(runner, db, county, checkpoint_dir):
    ids = write_events(db)
    victim = db.session.get(AuditEvent, ids[3])
    victim.detail = json.dumps({"after": {"phone": "13800000000"}})  # the clerk's own number
    db.session.commit()
    rehash_from(db, ids[3], plain_sha256)
    code, out = verify(runner)
    assert code == 1 and f"broken at event {ids[3]}" in out and "keyed hash" in out, out


def test_a_rehash_with_a_guessed_key_is_named_too(runner, db, county, checkpoint_dir):
    import hmac

    ids = write_events(db)
    db.session.get(AuditEvent, ids[5]).actor = "someone-else"
    db.session.commit()
    guess = b"dev-only-insecure-secret-key"
    rehash_from(db, ids[5], lambda prev, ev: hmac.new(guess, canonical_json(
        [prev, ev.at.isoformat(timespec="microseconds"), ev.actor_id, ev.actor, ev.action, ev.object_type,
         ev.object_id, ev.region_code, ev.detail]).encode(), hashlib.sha256).hexdigest())
    code, out = verify(runner)
    assert code == 1 and f"broken at event {ids[5]}" in out, out


def test_deleting_the_newest_events_is_named_by_the_checkpoint(runner, db, county, checkpoint_dir):
    write_events(db)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id >= newest - 2))
    db.session.commit()
    # The chain alone still links up (only its tail is gone) …
    from subsidy.audit.service import verify_chain

    assert verify_chain().ok
    # … the checkpoint kept outside the database does not.
    code, out = verify(runner)
    assert code == 1 and "truncated" in out, out


def test_a_kept_checkpoint_file_and_an_sms_code_are_checked(runner, db, county, checkpoint_dir, tmp_path, app):
    from subsidy.notify.models import Message

    UserFactory(role=__import__("subsidy.accounts.models", fromlist=["Role"]).Role.supervisor, region_code="640425",
                phone="13909540002")
    write_events(db)
    with app.test_request_context():
        point = checkpoints.current()
    kept = tmp_path / "kept.json"
    kept.write_text(point.as_json(), encoding="utf-8")
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    sms = db.session.scalar(sa.select(Message).where(Message.template == "audit_checkpoint"))
    assert sms.to_phone == "13909540002"
    last_id = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) - 1  # the checkpoint's own event is newer
    short = sms.body.split("校验码")[1][:12]
    code, out = verify(runner, "--checkpoint", str(kept), "--code", f"{last_id}:{short}")
    assert code == 0, out
    # a forged file (head changed, signed without our key) is named
    forged = json.loads(kept.read_text())
    forged["count"] += 5
    kept.write_text(json.dumps(forged), encoding="utf-8")
    code, out = verify(runner, "--checkpoint", str(kept))
    assert code == 1 and "signature does not match" in out


def test_unkeyed_events_before_the_key_verify_and_none_may_follow(runner, db, county, checkpoint_dir):
    """Events written before migration 0012 carry plain SHA-256; one appended after keyed ones
    without the key is named."""
    ids = write_events(db, 4)
    rehash_from(db, ids[0], plain_sha256)
    db.session.execute(sa.update(AuditEvent).values(keyed=False))
    db.session.commit()
    write_events(db, 2)  # keyed, chained onto the unkeyed ones
    assert verify(runner)[0] == 0
    last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    forged = AuditEvent(at=last.at, actor_id=None, actor="system", action="household.delete", object_type="household",
                        object_id="1", region_code="640425100201", detail="{}", prev_hash=last.hash, keyed=False)
    forged.hash = plain_sha256(last.hash, forged)
    db.session.add(forged)
    db.session.commit()
    code, out = verify(runner)
    assert code == 1 and "unkeyed event after the chain was keyed" in out


def test_the_supervisors_verify_button(login_as, db, county, checkpoint_dir):
    write_events(db)
    supervisor = login_as("supervisor", "640425")
    page = supervisor.post("/audit/verify").get_data(as_text=True)
    assert "审计日志完整" in page
    db.session.execute(sa.text("UPDATE audit_events SET detail = '{}' WHERE id = 2"))
    db.session.commit()
    page = supervisor.post("/audit/verify").get_data(as_text=True)
    assert "审计日志已被改动" in page and "第 2 条起不一致" in page
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "audit.verify")) == 2
    download = supervisor.post("/audit/checkpoint")
    assert download.status_code == 200 and json.loads(download.data)["signature"]
    assert login_as("village_clerk").post("/audit/verify").status_code == 403


def test_account_events_of_one_county_are_not_shown_to_another(login_as, db, county):
    from subsidy.regions.models import Level
    from tests.factories import RegionFactory

    RegionFactory(code="640402", name="原州区", level=Level.county)
    db.session.commit()
    clerk = make_user("village_clerk")
    from subsidy.accounts.service import record_failed_sign_in, record_sign_in

    record_sign_in(clerk, "10.1.1.1")
    record_failed_sign_in(clerk.username, "203.0.113.9")
    record_failed_sign_in("no-such-user", "203.0.113.10")
    db.session.commit()
    own = login_as("supervisor", "640425").get("/audit/?object_type=user").get_data(as_text=True)
    other = login_as("supervisor", "640402").get("/audit/?object_type=user").get_data(as_text=True)
    assert "10.1.1.1" in own and "203.0.113.9" in own
    assert "10.1.1.1" not in other and "203.0.113.9" not in other and "203.0.113.10" not in other

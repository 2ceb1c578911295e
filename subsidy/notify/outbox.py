"""The outbox: the one way to owe a farmer an SMS.

A message row is written in the caller's transaction (so it exists if and only if the change
that causes it commits), keyed by (event, recipient) so that replaying an event never owes a
second message. Nothing here talks to a provider: the worker does, outside any request.

Every message owed is either sent or visibly not sent: a household without a mobile number
gets a `failed` row ("无手机号码"), an opted-out number a `cancelled` row ("已退订"), so the
village clerk sees who was not told and why."""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app

from subsidy.common.database import upsert_insert
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.notify.models import Message, MessageStatus, OptOut
from subsidy.notify.templates import (
    OPT_OUT_EXEMPT,
    SQLITE_UTF16_FUNCTION,
    fields_of,
    render,
    render_sql,
    segment_count,
    utf16_units,
)
from subsidy.regions.models import Region
from subsidy.regions.scope import ancestors

NO_PHONE = ("no_phone", "无手机号码，未发送")
OPTED_OUT = ("opted_out", "该号码已退订短信，未发送")
_CHUNK = 1000


def signature_for(region_code: str) -> str:
    """The SMS signature of the nearest region at or above `region_code` that has one
    (village → township → county → city), e.g. 【彭阳县惠农】, else the installation's default.
    A farmer's message is filed under their village, so it carries their county's signature
    even for a city-wide policy; a message to city staff (a reminder to a city unit) the city's."""
    chain = [*ancestors(region_code), region_code]
    signature = db.session.scalar(
        sa.select(Region.sms_signature).where(Region.code.in_(chain), Region.sms_signature.is_not(None),
                                              Region.sms_signature != "")
        .order_by(sa.func.length(Region.code).desc()).limit(1))
    return signature or current_app.config["SMS_SIGNATURE"]


def opted_out(phones: Iterable[str]) -> set[str]:
    phones = [p for p in set(phones) if p]
    found: set[str] = set()
    for i in range(0, len(phones), _CHUNK):
        found.update(db.session.scalars(sa.select(OptOut.phone).where(OptOut.phone.in_(phones[i:i + _CHUNK]))))
    return found


def _existing_keys(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        found.update(db.session.scalars(sa.select(Message.key).where(Message.key.in_(keys[i:i + _CHUNK]))))
    return found


def _insert(rows: list[dict]) -> None:
    # ON CONFLICT covers a concurrent enqueue of the same event that committed after our check.
    stmt = upsert_insert(Message).on_conflict_do_nothing(index_elements=["key"])
    for i in range(0, len(rows), _CHUNK):
        db.session.execute(stmt, rows[i:i + _CHUNK])


def enqueue_bulk(template: str, rows: list[dict]) -> int:
    """Owe one message per row, set-based. Each row: `key`, `phone` (11 digits or None),
    `region_code`, `context` (template fields) and optionally `household_id`, `entry_id`,
    `case_id`. Keys already in the outbox are skipped. Returns how many rows were added."""
    if not rows:
        return 0
    signatures: dict[str, str] = {}

    def body_of(r: dict) -> str:
        code = r["region_code"]
        if code not in signatures:
            signatures[code] = signature_for(code)
        return render(template, signatures[code], r.get("context", {}))

    return _enqueue_rows(template, rows, body_of)


def enqueue_select(template: str, source: sa.Select, *, signature_region: str, constants: dict | None = None) -> int:
    """Owe one message per row of `source` in one INSERT … SELECT, the same contract as
    `enqueue_bulk` (keys already owed skipped, no phone → failed, opted out → cancelled): the
    database renders each body from the template, so owing 5,000 messages is one statement,
    not 5,000 rows sent from Python (a county approval owes 5,000 households at once).

    `source` yields labelled columns `key`, `phone`, `region_code`, `household_id`, `entry_id`
    (optionally `case_id`) and one per template field not in `constants`; the signature is
    `signature_for(signature_region)`. For templates whose own text is not GSM-7 (all Chinese ones);
    see `templates.render_sql`. Returns how many rows were added."""
    constants = constants or {}
    driver = db.session.connection().connection.driver_connection
    if hasattr(driver, "create_function"):
        # SQLite has no UTF-16 length: a function of this connection (registering is cheap).
        driver.create_function(SQLITE_UTF16_FUNCTION, 1, utf16_units, deterministic=True)
    signature = signature_for(signature_region)
    src = source.subquery("src")
    columns = {name: src.c[name] for name in fields_of(template) if name != "signature" and name not in constants}
    body, segments = render_sql(template, signature, constants, columns)
    phone = sa.func.nullif(src.c.phone, "")
    case_id = src.c.case_id if "case_id" in src.c else sa.cast(sa.null(), sa.Integer)
    select = sa.select(src.c.key, sa.literal(template, sa.String), body, segments, phone, src.c.region_code,
                       src.c.household_id, src.c.entry_id, case_id)
    no_phone = phone.is_(None)
    if template in OPT_OUT_EXEMPT:
        blocked = sa.false()
    else:
        blocked = OptOut.phone.is_not(None)
        select = select.outerjoin(OptOut, OptOut.phone == phone)
    now = sa.literal(utcnow(), Message.created_at.type)

    def when(no_phone_value, blocked_value, else_):
        return sa.case((no_phone, no_phone_value), (blocked, blocked_value), else_=else_)

    select = select.add_columns(
        when(MessageStatus.failed.value, MessageStatus.cancelled.value, MessageStatus.queued.value),
        sa.literal(0), sa.literal(0), now, now, when(now, now, sa.null()),
        when(NO_PHONE[0], OPTED_OUT[0], sa.null()), when(NO_PHONE[1], OPTED_OUT[1], sa.null()),
    ).where(sa.true())  # SQLite: a WHERE before ON CONFLICT keeps the upsert unambiguous
    stmt = upsert_insert(Message.__table__).from_select(
        ["key", "template", "body", "segments", "to_phone", "region_code", "household_id", "entry_id", "case_id",
         "status", "attempts", "provider_calls", "next_attempt_at", "created_at", "status_at", "error_code",
         "error_message"], select).on_conflict_do_nothing(index_elements=["key"])
    # Without preserve_rowcount SQLAlchemy drops the count of an INSERT … SELECT (-1 on psycopg).
    return db.session.execute(stmt.execution_options(preserve_rowcount=True)).rowcount


def enqueue_text(template: str, body: str, *, key: str, phone: str | None, region_code: str,
                 household_id: int | None = None, entry_id: int | None = None, case_id: int | None = None) -> int:
    """Owe one message whose text is already rendered (a staff resend of an earlier message)."""
    row = {"key": key, "phone": phone, "region_code": region_code, "household_id": household_id,
           "entry_id": entry_id, "case_id": case_id}
    return _enqueue_rows(template, [row], lambda r: body)


def _enqueue_rows(template: str, rows: list[dict], body_of) -> int:
    existing = _existing_keys([r["key"] for r in rows])
    rows = [r for r in rows if r["key"] not in existing]
    if not rows:
        return 0
    blocked = set() if template in OPT_OUT_EXEMPT else opted_out(r.get("phone") for r in rows)
    now = utcnow()
    values = []
    segments: dict[str, int] = {}
    for r in rows:
        body = body_of(r)
        if body not in segments:
            segments[body] = segment_count(body)
        phone = r.get("phone") or None
        status, error = MessageStatus.queued, (None, None)
        if phone is None:
            status, error = MessageStatus.failed, NO_PHONE
        elif phone in blocked:
            status, error = MessageStatus.cancelled, OPTED_OUT
        values.append({
            "key": r["key"], "template": template, "body": body, "segments": segments[body],
            "to_phone": phone, "region_code": r["region_code"], "household_id": r.get("household_id"),
            "entry_id": r.get("entry_id"), "case_id": r.get("case_id"), "broadcast_id": r.get("broadcast_id"),
            "login_code_id": r.get("login_code_id"),
            "status": status, "attempts": 0, "provider_calls": 0, "next_attempt_at": now, "created_at": now,
            "status_at": None if status == MessageStatus.queued else now,
            "error_code": error[0], "error_message": error[1],
        })
    _insert(values)
    return len(values)


def enqueue(template: str, *, key: str, phone: str | None, region_code: str, context: dict,
            household_id: int | None = None, entry_id: int | None = None, case_id: int | None = None,
            login_code_id: int | None = None) -> Message | None:
    """Owe one message; returns it, or None if this event already owes one to this recipient."""
    added = enqueue_bulk(template, [{"key": key, "phone": phone, "region_code": region_code, "context": context,
                                     "household_id": household_id, "entry_id": entry_id, "case_id": case_id,
                                     "login_code_id": login_code_id}])
    if not added:
        return None
    return db.session.scalar(sa.select(Message).where(Message.key == key))

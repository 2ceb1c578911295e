"""Farmers prove who they are with an SMS code (docs/design.md "Farmers' mobile pages").

Sign-in: ID number + mobile number. If they match a household, a 6-digit code goes to that
mobile through the outbox (template `login_code`). Rules:
- a code is valid 5 minutes and allows at most 5 tries, then it is dead;
- at most one code a minute and 10 a day (China calendar day) per mobile number; the per-address
  limits are Flask-Limiter's, at the edge (`subsidy.public.views`);
- nothing tells a registered ID number from an unregistered one: a row is written for every
  request and counts toward the same limits, the same page follows, a wrong code fails the same
  way, and the view pads every answer to the same minimum time.
A second purpose, `phone`, confirms a mobile number alone, for a farmer who wants to ask or
complain without signing in."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from subsidy.audit import service as audit
from subsidy.common.actors import Farmer
from subsidy.common.database import upsert_insert
from subsidy.common.timeutil import CHINA_TZ, utcnow
from subsidy.errors import DomainError, TooManyRequests, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.households.validation import check_id_number, check_phone
from subsidy.notify import outbox, sealed
from subsidy.public.models import CodePurpose, LoginCode, MobileSignIn

CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 5
PER_NUMBER_PER_MINUTE = 1
PER_NUMBER_PER_DAY = 10


class CodeRejected(DomainError):
    """A wrong, expired or used code. One wording for every cause a guesser could learn from."""

    status = 400
    code = "invalid_code"


@dataclass
class Ticket:
    id: int
    phone: str


@dataclass
class Verified:
    purpose: CodePurpose
    phone: str
    household_id: int | None
    request_id: int  # the session's sign-in request (see subsidy.public.farmer)


def _hash(ticket_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"login-code:{ticket_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _check_number_limits(phone: str, now: datetime) -> None:
    """One code a minute and ten a day per mobile number, counting every request (matched or
    not), so that the limit itself never hints at a registration."""
    recent, today = db.session.execute(
        sa.select(sa.func.count().filter(LoginCode.created_at > now - timedelta(minutes=1)),
                  sa.func.count().filter(LoginCode.created_at >= _day_start(now)))
        .where(LoginCode.phone == phone, LoginCode.created_at >= min(_day_start(now), now - timedelta(minutes=1)))
    ).one()
    if recent >= PER_NUMBER_PER_MINUTE:
        raise TooManyRequests("验证码已发送，请 1 分钟后再试")
    if today >= PER_NUMBER_PER_DAY:
        raise TooManyRequests("该手机号今天获取验证码次数太多，请明天再试")


def clean_inputs(id_number: str | None, phone: str | None, purpose: CodePurpose) -> tuple[str | None, str]:
    """Format checks only (a checksum says nothing about registration)."""
    fields: dict[str, str] = {}
    clean_id = None
    if purpose is CodePurpose.login:
        try:
            clean_id = check_id_number(id_number)
        except ValueError as exc:
            fields["id_number"] = str(exc)
    try:
        clean_phone = check_phone(phone, required=True)
    except ValueError as exc:
        fields["phone"] = str(exc)
        clean_phone = ""
    if fields:
        raise ValidationError("请检查填写的内容", fields=fields)
    return clean_id, clean_phone


def request_code(*, purpose: CodePurpose, id_number: str | None, phone: str | None, address: str,
                 region_code: str) -> Ticket:
    """Write the request and, if it is answerable, owe the SMS. `region_code` is the region the
    visitor came through (for the county's SMS signature when no household is known)."""
    clean_id, clean_phone = clean_inputs(id_number, phone, purpose)
    now = utcnow()
    _check_number_limits(clean_phone, now)
    household = None
    if purpose is CodePurpose.login:
        household = db.session.execute(
            sa.select(Household.id, Household.region_code)
            .where(Household.id_number == clean_id, Household.phone == clean_phone)).first()
    row = LoginCode(purpose=purpose, phone=clean_phone, household_id=household.id if household else None,
                    code_hash="", address=(address or "")[:64], created_at=now, expires_at=now + CODE_TTL)
    db.session.add(row)
    db.session.flush()
    row.code_hash = _hash(row.id, sealed.code_for(row.id))
    send = household is not None or purpose is CodePurpose.phone
    region = household.region_code if household is not None else region_code
    if send:
        # Masked in the outbox: the worker derives the code when it sends (notify.sealed).
        outbox.enqueue("login_code", key=f"login_code:{row.id}", phone=clean_phone, region_code=region,
                       context={"code": sealed.MASK}, household_id=household.id if household else None,
                       login_code_id=row.id)
    else:
        # The same reads the outbox makes (key, opt-out, signature), so both paths cost alike;
        # the view also pads the answer to a fixed minimum time.
        db.session.execute(sa.select(sa.func.count()).select_from(LoginCode).where(LoginCode.id == row.id))
        outbox.opted_out([clean_phone])
        outbox.signature_for(region)
    db.session.flush()
    return Ticket(row.id, clean_phone)


def verify_code(ticket_id: int | None, code: str | None, *, purpose: CodePurpose) -> Verified:
    """Check a code. Every try counts (a wrong one is committed by the caller: the view answers
    200 so that the request's commit keeps it); the fifth wrong try kills the code."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    row = db.session.get(LoginCode, ticket_id) if ticket_id else None
    now = utcnow()
    if row is None or row.purpose is not purpose:
        raise CodeRejected("验证码不正确或已失效，请重新获取")
    if row.used_at is not None or row.expires_at <= now or row.attempts >= MAX_TRIES:
        raise CodeRejected("验证码不正确或已失效，请重新获取")
    claimed = db.session.execute(
        sa.update(LoginCode).where(LoginCode.id == row.id, LoginCode.attempts < MAX_TRIES, LoginCode.used_at.is_(None))
        .values(attempts=LoginCode.attempts + 1).execution_options(synchronize_session=False)).rowcount
    db.session.refresh(row)
    answerable = row.household_id is not None or purpose is CodePurpose.phone
    if not claimed or not answerable or len(code) != 6 or not hmac.compare_digest(row.code_hash, _hash(row.id, code)):
        left = max(0, MAX_TRIES - row.attempts)
        if left == 0:
            raise CodeRejected("验证码错误次数太多，已失效，请重新获取")
        raise CodeRejected(f"验证码不正确，还可以再试 {left} 次")
    used = db.session.execute(
        sa.update(LoginCode).where(LoginCode.id == row.id, LoginCode.used_at.is_(None)).values(used_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not used:
        raise CodeRejected("验证码不正确或已失效，请重新获取")
    if purpose is CodePurpose.login:
        record_sign_in(row.household_id, now,
                       by=Farmer(row.household_id, row.phone, row.id, row.address))
    return Verified(purpose, row.phone, row.household_id, row.id)


def session_open(request_id) -> bool:
    """Whether the farmer's session begun by sign-in request `request_id` is still on: its code
    was used and it has not been signed out."""
    if not isinstance(request_id, int):
        return False
    row = db.session.execute(sa.select(LoginCode.used_at, LoginCode.signed_out_at)
                             .where(LoginCode.id == request_id)).first()
    return row is not None and row.used_at is not None and row.signed_out_at is None


def end_sessions(request_ids) -> None:
    """退出: the sessions of these sign-in requests end for every copy of their cookie."""
    ids = [i for i in request_ids if isinstance(i, int)]
    if ids:
        db.session.execute(sa.update(LoginCode).where(LoginCode.id.in_(ids), LoginCode.signed_out_at.is_(None))
                           .values(signed_out_at=utcnow()).execution_options(synchronize_session=False))


def record_sign_in(household_id: int, now: datetime | None = None, *, by: Farmer | None = None) -> bool:
    """Count a successful sign-in; the first one of a household counts toward mobile coverage.
    Returns True when it was the first. One statement, safe against two phones at once.
    Audited as the farmer `by`, with the session and address (None: a script's backfill)."""
    now = now or utcnow()
    first = db.session.get(MobileSignIn, household_id) is None
    stmt = upsert_insert(MobileSignIn).values(household_id=household_id, first_signed_in_at=now, last_signed_in_at=now,
                                       sign_ins=1)
    stmt = stmt.on_conflict_do_update(index_elements=["household_id"],
                                      set_={"last_signed_in_at": now, "sign_ins": MobileSignIn.sign_ins + 1})
    db.session.execute(stmt)
    region = db.session.scalar(sa.select(Household.region_code).where(Household.id == household_id))
    audit.record(by, "mobile.sign_in", "household", household_id, region_code=region, first=first)
    return first

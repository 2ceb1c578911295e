"""Staff accounts: sign-in, tokens, and the county admin's user management."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from subsidy.accounts.models import MANAGES, ROLE_LEVELS, ApiToken, Role, User
from subsidy.accounts.permissions import Perm, exempt, require, requires
from subsidy.audit import service as audit
from subsidy.audit.models import AuditEvent
from subsidy.common.database import regardless
from subsidy.common.pagination import Page, paginate
from subsidy.common.text import single_line
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.households.validation import check_phone
from subsidy.regions.models import Level
from subsidy.regions.scope import county_scope, ensure_visible, get_visible, normalize_code, within
from subsidy.regions.service import find_region

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
MIN_PASSWORD = 8
# Told of an account under attack: the admins and supervisors of the unit that answers for it.
ALERTED_ROLES = (Role.county_admin, Role.supervisor, Role.city_admin, Role.city_supervisor)
# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def check_password_strength(password: str, user=None, *, username: str = "", name: str = "",
                            phone: str | None = None) -> None:
    """At least MIN_PASSWORD characters with letters and digits, not one of the common
    passwords (passwords.COMMON, the demo's included), and not made of the user's own name,
    username or phone number."""
    from subsidy.accounts.passwords import weakness

    if len(password or "") < MIN_PASSWORD:
        raise ValidationError("密码太短", fields={"password": f"密码至少 {MIN_PASSWORD} 位"})
    if password.isdigit() or password.isalpha():
        raise ValidationError("密码太简单", fields={"password": "密码须同时包含字母和数字"})
    if user is not None:
        username, name, phone = user.username, user.name, user.phone
    why = weakness(password, [username, name, phone])
    if why:
        raise ValidationError("密码太容易被猜到", fields={"password": why})


def authenticate(username: str, password: str) -> User | None:
    """The user for these credentials, or None. Inactive users cannot sign in."""
    user = db.session.scalar(sa.select(User).where(User.username == (username or "").strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def record_sign_in(user: User, address: str) -> None:
    user.last_login_at = utcnow()
    audit.record(user, "user.sign_in", "user", user.id, region_code=user.region_code, address=address)


def record_failed_sign_in(username: str | None, address: str) -> None:
    """A failed staff sign-in, audited under the account's region (an unknown name has none)
    although the request answers an error (`regardless`), and, when one account has failed
    LOGIN_ALERT_FAILURES times within LOGIN_ALERT_MINUTES from any addresses, one alert per
    window to its county's admins and supervisors, a city user's to the city's (docs/design.md §6:
    an alert instead of a lock-out that anyone could inflict on the county reviewer)."""
    name = (username or "").strip()[:40]
    address = (address or "")[:64]

    def write():
        user = db.session.scalar(sa.select(User).where(User.username == name)) if name else None
        reason = "unknown_user" if user is None else ("inactive" if not user.active else "wrong_password")
        audit.record(None, "user.sign_in_failed", "user", user.id if user else None,
                     region_code=user.region_code if user else None, username=name, address=address, reason=reason)
        if user is not None:
            _alert_if_besieged(user)

    regardless(write)


def record_throttled_sign_in(username: str, address: str) -> None:
    """A sign-in refused by a throttling limit (a lock-out of the name at the address), audited
    once per name, address and LOGIN_ALERT_MINUTES however often the refused attempts repeat."""
    name = (username or "").strip()[:40]
    address = (address or "")[:64]

    def write():
        user = db.session.scalar(sa.select(User).where(User.username == name)) if name else None
        since = utcnow() - timedelta(minutes=int(current_app.config["LOGIN_ALERT_MINUTES"]))
        already = db.session.scalar(sa.select(AuditEvent.id).where(
            AuditEvent.action == "user.sign_in_throttled", AuditEvent.at >= since,
            AuditEvent.detail.contains(audit.canonical_json({"address": address})[1:-1]),
            AuditEvent.detail.contains(audit.canonical_json({"username": name})[1:-1])).limit(1))
        if already is None:
            audit.record(None, "user.sign_in_throttled", "user", user.id if user else None,
                         region_code=user.region_code if user else None, username=name, address=address)

    regardless(write)


def _alert_if_besieged(user: User) -> None:
    config = current_app.config
    threshold, minutes = int(config["LOGIN_ALERT_FAILURES"]), int(config["LOGIN_ALERT_MINUTES"])
    since = utcnow() - timedelta(minutes=minutes)
    mine = sa.and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id), AuditEvent.at >= since)
    failures = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        mine, AuditEvent.action == "user.sign_in_failed"))
    if failures < threshold or db.session.scalar(sa.select(AuditEvent.id).where(
            mine, AuditEvent.action == "user.sign_in_alert").limit(1)) is not None:
        return
    addresses = sorted({json.loads(d).get("address", "") for d in db.session.scalars(
        sa.select(AuditEvent.detail).where(mine, AuditEvent.action == "user.sign_in_failed"))})
    alert = audit.record(None, "user.sign_in_alert", "user", user.id, region_code=user.region_code,
                         username=user.username, failures=failures, minutes=minutes, addresses=addresses[:20])
    # The unit that answers for the account: its county's admins and supervisors, or, for a city
    # user, the city's (each role sits at one of the two levels only).
    unit = county_scope(user.region_code)
    recipients = db.session.execute(sa.select(User.id, User.phone).where(
        User.region_code == unit, User.role.in_(ALERTED_ROLES), User.active.is_(True))).all()
    from subsidy.notify import outbox

    outbox.enqueue_bulk("sign_in_alert", [
        {"key": f"sign_in_alert:{alert.id}:{recipient_id}", "phone": phone, "region_code": unit,
         "context": {"username": user.username, "count": failures, "minutes": minutes}}
        for recipient_id, phone in recipients])


def load_session_user(session_id: str) -> User | None:
    user_id, _, epoch = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or str(user.session_epoch) != epoch or not user.active:
        return None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_digest(token),
                   expires_at=utcnow() + timedelta(hours=current_app.config["API_TOKEN_HOURS"]))
    db.session.add(row)
    db.session.flush()
    audit.record(user, "user.token_issued", "user", user.id, region_code=user.region_code, token_id=row.id,
                 expires_at=row.expires_at)
    return token, row


def token_for(token: str) -> ApiToken | None:
    """The live token row for a bearer token (its user active), or None."""
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.active:
        return None
    return row


def _validate_role_region(role_value, region_code) -> tuple[Role, str]:
    fields = {}
    try:
        role = Role(role_value)
    except ValueError:
        role = None
        fields["role"] = "角色应为：" + "、".join(f"{r.value}（{r.label}）" for r in Role)
    try:
        code = normalize_code(region_code)
        region = find_region(code)
    except (ValidationError, NotFound) as exc:
        fields["region_code"] = exc.message
        region = None
    if role and region and region.level not in ROLE_LEVELS[role]:
        allowed = "、".join(f"{level.label}级" for level in Level if level in ROLE_LEVELS[role])
        fields["role"] = f"{role.label}不能设在{region.level.label}级（{region.name}），只能设在{allowed}"
    if fields:
        raise ValidationError("用户信息有误", fields=fields)
    return role, region.code


@exempt("checks manage_users itself: the shell (`flask users create`) calls it with no actor, as the installer")
def create_user(actor, *, username: str, password: str, name: str, role, region_code: str,
                phone: str | None = None) -> User:
    """County admins create the staff of their county, the city admin the counties' admins and
    supervisors and the city's supervisors (MANAGES; docs/api.md POST /users)."""
    if actor is not None:  # None: the shell (`flask users create`), trusted like the installer
        require(actor, Perm.manage_users)
    username = (username or "").strip()
    fields = {}
    if not USERNAME_RE.match(username):
        fields["username"] = "用户名为 3–40 位字母、数字或 _ . -"
    try:
        name = single_line(name, label="姓名", limit=40, required=False) or username
    except ValueError as exc:
        fields["name"] = str(exc)
    try:
        phone = check_phone(phone)
    except ValueError as exc:
        fields["phone"] = str(exc)
    try:
        check_password_strength(password, username=username, name=name or "", phone=phone)
    except ValidationError as exc:
        fields.update(exc.fields)
    try:
        role, code = _validate_role_region(role, region_code)
    except ValidationError as exc:
        fields.update(exc.fields)
    if fields:
        raise ValidationError("用户信息有误", fields=fields)
    if actor is not None:
        ensure_visible(actor, code, "行政区划")
        if role not in MANAGES.get(actor.role, ()):
            raise ValidationError("用户信息有误", fields={"role": _not_yours(actor, role)})
    if db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == username)):
        raise Conflict("用户名已被使用", fields={"username": "用户名已被使用"}, code="duplicate")
    # The admin knows the password they set: the user chooses their own at first sign-in. The
    # installer at the shell sets their own, so is not asked again.
    user = User(username=username, name=name, password_hash=generate_password_hash(password),
                role=role, region_code=code, phone=phone or None, must_change_password=actor is not None)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, region_code=code,
                 username=username, role=role, region=code)
    return user


def _not_yours(actor, role: Role) -> str:
    makers = "、".join(str(maker.label) for maker, roles in MANAGES.items() if role in roles) or "系统安装人员"
    return f"{actor.role.label}不能创建或管理{role.label}账号（由{makers}办理）"


@requires(Perm.manage_users)
def get_user(actor, user_id: int) -> User:
    """A user the actor may manage: in its region, and of a role it may create (MANAGES), or
    itself. Another county admin of the same county is visible in the list but not editable."""
    user = get_visible(actor, User, user_id, "用户")
    if not may_manage(actor, user):
        raise PermissionDenied(_not_yours(actor, user.role))
    return user


@exempt("a rule asked by get_user and the users page, which hold manage_users already")
def may_manage(actor, user: User) -> bool:
    """The rule of MANAGES for one account (the users page draws its buttons by it)."""
    return user.id == actor.id or user.role in MANAGES.get(actor.role, ())


@requires(Perm.manage_users)
def set_user_active(actor, user_id: int, active: bool) -> User:
    user = get_user(actor, user_id)
    if user.id == actor.id and not active:
        raise PermissionDenied("不能停用自己的账号")
    if user.active != active:
        user.active = active
        _sign_out_everywhere(user)
        audit.record(actor, "user.activate" if active else "user.deactivate", "user", user.id,
                     region_code=user.region_code)
    return user


@requires(Perm.manage_users)
def reset_password(actor, user_id: int, new_password: str) -> User:
    user = get_user(actor, user_id)
    check_password_strength(new_password, user)
    user.password_hash = generate_password_hash(new_password)
    user.must_change_password = user.id != actor.id
    _sign_out_everywhere(user)
    audit.record(actor, "user.password_reset", "user", user.id, region_code=user.region_code)
    return user


@requires(Perm.manage_users)
def update_user(actor, user_id: int, *, name: str, phone: str | None, region_code: str) -> User:
    """A user's name, mobile number and region (within the admin's county; the role stays and
    must fit the new region's level). The phone is checked as the register checks farmers'."""
    user = get_user(actor, user_id)
    fields = {}
    try:
        name = single_line(name, label="姓名", limit=40, required=True)
    except ValueError as exc:
        fields["name"] = str(exc)
    try:
        phone = check_phone(phone)
    except ValueError as exc:
        fields["phone"] = str(exc)
    try:
        _role, code = _validate_role_region(user.role, region_code)
    except ValidationError as exc:
        fields.update({("region_code" if key == "role" else key): value for key, value in exc.fields.items()})
        code = None
    if fields:
        raise ValidationError("用户信息有误", fields=fields)
    ensure_visible(actor, code, "行政区划")
    values = {"name": name, "phone": phone or None, "region_code": code}
    before = {key: getattr(user, key) for key in values}
    changed = {key: value for key, value in values.items() if before[key] != value}
    if changed:
        for key, value in changed.items():
            setattr(user, key, value)
        if "region_code" in changed:
            _sign_out_everywhere(user)  # what the user may see changed: sign them in again
        db.session.flush()
        audit.record(actor, "user.update", "user", user.id, region_code=code,
                     before={key: before[key] for key in changed}, after=changed)
    return user


@exempt("one's own account: every signed-in user may change their own password")
def change_own_password(actor, current_password: str, new_password: str) -> None:
    """A new password ends every other session and every API token of the account: whoever
    learned the old one keeps nothing they obtained with it."""
    if not check_password_hash(actor.password_hash, current_password or ""):
        raise ValidationError("当前密码不正确", fields={"current_password": "当前密码不正确"})
    if check_password_hash(actor.password_hash, new_password or ""):
        raise ValidationError("新密码与当前密码相同", fields={"password": "新密码不能与当前密码相同"})
    check_password_strength(new_password, actor)
    actor.password_hash = generate_password_hash(new_password)
    actor.must_change_password = False
    revoked = _sign_out_everywhere(actor)
    audit.record(actor, "user.password_change", "user", actor.id, region_code=actor.region_code,
                 tokens_revoked=revoked)


def _sign_out_everywhere(user: User) -> int:
    """End every session of the account (the epoch each request checks moves on) and withdraw
    every API token; the number of tokens withdrawn."""
    user.session_epoch += 1
    return _revoke_tokens(user.id)


def _revoke_tokens(user_id: int, token_id: int | None = None) -> int:
    stmt = sa.delete(ApiToken).where(ApiToken.user_id == user_id)
    if token_id is not None:
        stmt = stmt.where(ApiToken.id == token_id)
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


@exempt("one's own session: every signed-in user may sign out")
def sign_out(actor, address: str) -> None:
    """退出: the session ends on the server (the epoch every request checks moves on), so a copy
    of the session or remember-me cookie taken before it opens nothing after it; every device
    of the account is signed out with it."""
    actor.session_epoch += 1
    audit.record(actor, "user.sign_out", "user", actor.id, region_code=actor.region_code, address=address)


@exempt("one's own tokens: every user of the API may withdraw them")
def revoke_own_tokens(actor, token_id: int | None = None) -> int:
    """Withdraw one of one's own API tokens (the one in use, from the API) or all of them."""
    revoked = _revoke_tokens(actor.id, token_id)
    audit.record(actor, "user.tokens_revoked", "user", actor.id, region_code=actor.region_code,
                 token_id=token_id, revoked=revoked)
    return revoked


@requires(Perm.manage_users)
def list_users(actor, *, page=1, per_page=50, q: str | None = None) -> Page:
    stmt = sa.select(User).where(within(User.region_code, actor.region_code))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(User.username.ilike(like), User.name.ilike(like), User.phone.ilike(like)))
    return paginate(stmt.order_by(User.region_code, User.username), page, per_page)

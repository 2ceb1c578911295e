"""Staff accounts: sign-in, tokens, and the county admin's user management."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from subsidy.accounts.models import ROLE_LEVELS, ROLE_LABEL, ApiToken, Role, User
from subsidy.accounts.permissions import Perm, require
from subsidy.audit import service as audit
from subsidy.common.pagination import Page, paginate
from subsidy.common.text import single_line
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.households.validation import check_phone
from subsidy.regions.models import LEVEL_LABEL
from subsidy.regions.scope import ensure_visible, normalize_code, within
from subsidy.regions.service import find_region

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
MIN_PASSWORD = 8
# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError("密码太短", fields={"password": f"密码至少 {MIN_PASSWORD} 位"})
    if password.isdigit() or password.isalpha():
        raise ValidationError("密码太简单", fields={"password": "密码须同时包含字母和数字"})


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
    audit.record(user, "user.sign_in", "user", user.id, address=address)


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
    audit.record(user, "user.token_issued", "user", user.id, token_id=row.id, expires_at=row.expires_at)
    return token, row


def user_for_token(token: str) -> User | None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.active:
        return None
    return row.user


def _validate_role_region(role_value, region_code) -> tuple[Role, str]:
    fields = {}
    try:
        role = Role(role_value)
    except ValueError:
        role = None
        fields["role"] = "角色应为：" + "、".join(f"{r.value}（{ROLE_LABEL[r]}）" for r in Role)
    try:
        code = normalize_code(region_code)
        region = find_region(code)
    except (ValidationError, NotFound) as exc:
        fields["region_code"] = exc.message
        region = None
    if role and region and region.level not in ROLE_LEVELS[role]:
        fields["role"] = f"{ROLE_LABEL[role]}不能设在{LEVEL_LABEL[region.level]}级（{region.name}）"
    if fields:
        raise ValidationError("用户信息有误", fields=fields)
    return role, region.code


def create_user(actor, *, username: str, password: str, name: str, role, region_code: str,
                phone: str | None = None) -> User:
    """County admins create staff in their county (API.md POST /users)."""
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
        check_password_strength(password)
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
    if db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == username)):
        raise Conflict("用户名已被使用", fields={"username": "用户名已被使用"}, code="duplicate")
    user = User(username=username, name=name, password_hash=generate_password_hash(password),
                role=role, region_code=code, phone=phone or None)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, region_code=code,
                 username=username, role=role, region=code)
    return user


def _managed_user(actor, user_id: int) -> User:
    require(actor, Perm.manage_users)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    ensure_visible(actor, user.region_code, "用户")
    return user


def get_user(actor, user_id: int) -> User:
    return _managed_user(actor, user_id)


def set_user_active(actor, user_id: int, active: bool) -> User:
    user = _managed_user(actor, user_id)
    if user.id == actor.id and not active:
        raise PermissionDenied("不能停用自己的账号")
    if user.active != active:
        user.active = active
        user.session_epoch += 1  # sign the user out everywhere
        db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))
        audit.record(actor, "user.activate" if active else "user.deactivate", "user", user.id)
    return user


def reset_password(actor, user_id: int, new_password: str) -> User:
    user = _managed_user(actor, user_id)
    check_password_strength(new_password)
    user.password_hash = generate_password_hash(new_password)
    user.session_epoch += 1
    db.session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user.id))
    audit.record(actor, "user.password_reset", "user", user.id)
    return user


def change_own_password(actor, current_password: str, new_password: str) -> None:
    if not check_password_hash(actor.password_hash, current_password or ""):
        raise ValidationError("当前密码不正确", fields={"current_password": "当前密码不正确"})
    check_password_strength(new_password)
    actor.password_hash = generate_password_hash(new_password)
    actor.session_epoch += 1
    audit.record(actor, "user.password_change", "user", actor.id)


def list_users(actor, *, page=1, per_page=50, q: str | None = None) -> Page:
    require(actor, Perm.manage_users)
    stmt = sa.select(User).where(within(User.region_code, actor.region_code))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(User.username.ilike(like), User.name.ilike(like)))
    return paginate(stmt.order_by(User.region_code, User.username), page, per_page)

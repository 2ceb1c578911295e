"""API: tokens and users (docs/api.md)."""
from __future__ import annotations

from datetime import datetime

from flask import g, request
from pydantic import BaseModel, ConfigDict, Field

from subsidy.accounts import service
from subsidy.accounts.models import Role
from subsidy.accounts.throttling import sign_in_limits
from subsidy.api.errors import error_response
from subsidy.api.spec import PAGING, RegionCode, enum_str, page_args, page_json, q_text, route
from subsidy.common import throttle
from subsidy.common.access import client_address, current_actor


class TokenIn(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=40)
    password: str = Field(max_length=200)
    name: str = Field(default="", max_length=40)
    role: enum_str(Role)
    region_code: RegionCode
    phone: str | None = Field(default=None, max_length=20)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    name: str
    role: Role
    region_code: str
    active: bool


@route("/auth/token", "POST", summary="Exchange username and password for a bearer token",
       body=TokenIn, response=TokenOut, public=True, tag="auth", errors=(401, 403, 429))
@sign_in_limits()
def token(body: TokenIn):
    user = service.authenticate(body.username, body.password)
    if user is None:
        throttle.failed()
        service.record_failed_sign_in(body.username, client_address())
        return error_response(401, "unauthorized", "用户名或密码错误")
    if user.must_change_password:
        # The password is the admin's: no token until the user has chosen their own on the
        # 修改密码 page (docs/api.md "Auth").
        return error_response(403, "password_change_required",
                              "请先登录网页并修改管理员设置的初始密码，再申请访问令牌")
    service.record_sign_in(user, client_address())
    raw, row = service.issue_token(user)
    return {"token": raw, "expires_at": row.expires_at.isoformat()}


@route("/auth/token", "DELETE", summary="Revoke the token in use (sign out of the API)", status=204, tag="auth")
def revoke_token():
    service.revoke_own_tokens(current_actor(), g.api_token_id)
    return None


@route("/auth/tokens", "DELETE", summary="Revoke every token of one's own account", status=204, tag="auth")
def revoke_tokens():
    service.revoke_own_tokens(current_actor())
    return None


@route("/users", "POST", summary="Create a staff user (county admin)", body=UserIn, response=UserOut,
       status=201, tag="users")
def create_user(body: UserIn):
    return service.create_user(current_actor(), username=body.username, password=body.password, name=body.name,
                               role=body.role, region_code=body.region_code, phone=body.phone)


@route("/users", "GET", summary="List staff users in the admin's county", response=UserOut,
       list_response=True, tag="users", query={"q": q_text("username or name"), **PAGING})
def list_users():
    page, per_page = page_args()
    users = service.list_users(current_actor(), page=page, per_page=per_page, q=request.args.get("q"))
    return page_json(UserOut, users)

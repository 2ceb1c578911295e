"""Sign-in/out, own password, and the county admin's user management."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from subsidy.accounts import service
from subsidy.accounts.forms import ChangePasswordForm, LoginForm, PasswordResetForm, UserEditForm, UserForm
from subsidy.accounts.models import MANAGES, ROLE_LEVELS, Role
from subsidy.accounts.throttling import sign_in_limits
from subsidy.common import throttle
from subsidy.common.access import client_address, is_public_endpoint, public, safe_next
from subsidy.common.forms import form_status, refused
from subsidy.errors import DomainError, ValidationError
from subsidy.regions.service import list_regions_under

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("stats.home"))


# While a password the admin set is in use, only these pages open (and the public ones).
_WHILE_PASSWORD_IS_THE_ADMINS = {"accounts.change_password", "accounts.logout", "static"}


@bp.before_app_request
def password_first():
    """A user created or reset by the county admin chooses their own password before anything
    else: every staff page leads to 修改密码 until then. (The API issues no token meanwhile;
    see subsidy.accounts.api.)"""
    if (request.endpoint in _WHILE_PASSWORD_IS_THE_ADMINS or is_public_endpoint(request.endpoint)
            or request.blueprint == "api" or request.path.startswith("/api/")):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        flash(_("请先设置您自己的密码：当前密码是管理员设置的。"), "warning")
        return redirect(url_for("accounts.change_password"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
@sign_in_limits(methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("stats.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.username.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            service.record_sign_in(user, client_address())
            return redirect(_safe_next(request.args.get("next")))
        throttle.failed()
        service.record_failed_sign_in(form.username.data, client_address())
        flash(_("用户名或密码错误，或账号已停用。"), "danger")
        return render_template("accounts/login.html", form=form), 401
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    service.sign_out(current_user, client_address())
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_own_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationError as exc:
            status = refused(exc, form, {"password": "new_password"})
            return render_template("accounts/password.html", form=form), status
        login_user(current_user)  # the session epoch changed; keep this browser signed in
        flash(_("密码已修改。其他设备上的登录和全部 API 令牌已失效。"), "success")
        return redirect(url_for("stats.home"))
    return render_template("accounts/password.html", form=form), form_status(form)


@bp.route("/account/tokens/revoke", methods=["POST"])
def revoke_tokens():
    count = service.revoke_own_tokens(current_user)
    flash(_("已注销本账号的 %(n)s 个 API 令牌。", n=count), "success")
    return redirect(url_for("accounts.change_password"))


@bp.route("/users")
def users():
    result = service.list_users(current_user, page=request.args.get("page"), q=request.args.get("q"))
    return render_template("accounts/users.html", page=result, q=request.args.get("q", ""),
                           reset_form=PasswordResetForm(), may_manage=service.may_manage)


def _user_form() -> UserForm:
    form = UserForm()
    regions = list_regions_under(current_user)
    form.region_code.choices = [(r.code, f"{'　' * (len(r.code) // 3 - 2)}{r.name}（{r.code}）") for r in regions]
    # Only the roles the actor may create (MANAGES) that can sit at one of the regions offered:
    # a page never offers what the service refuses.
    levels = {r.level for r in regions}
    form.role.choices = Role.choices([role for role in Role
                                      if role in MANAGES.get(current_user.role, ()) and ROLE_LEVELS[role] & levels])
    return form


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = _user_form()
    if form.validate_on_submit():
        try:
            user = service.create_user(current_user, username=form.username.data, password=form.password.data,
                                       name=form.name.data, role=form.role.data,
                                       region_code=form.region_code.data, phone=form.phone.data)
        except DomainError as exc:
            status = refused(exc, form)
            return render_template("accounts/user_form.html", form=form), status
        flash(_("已创建用户 %(name)s。", name=user.username), "success")
        return redirect(url_for("accounts.users"))
    return render_template("accounts/user_form.html", form=form), form_status(form)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = service.get_user(current_user, user_id)
    form = UserEditForm(obj=user) if request.method == "GET" else UserEditForm()
    form.region_code.choices = _user_form().region_code.choices
    if form.validate_on_submit():
        try:
            service.update_user(current_user, user.id, name=form.name.data, phone=form.phone.data,
                                region_code=form.region_code.data)
        except DomainError as exc:
            status = refused(exc, form)
            return render_template("accounts/user_edit.html", form=form, user=user), status
        flash(_("已保存 %(name)s 的信息。", name=user.username), "success")
        return redirect(url_for("accounts.users"))
    return render_template("accounts/user_edit.html", form=form, user=user), form_status(form)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    active = request.form.get("active") == "1"
    user = service.set_user_active(current_user, user_id, active)
    flash(_("已启用 %(name)s。", name=user.username) if active else _("已停用 %(name)s。", name=user.username),
          "success")
    return redirect(url_for("accounts.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def reset_password(user_id: int):
    form = PasswordResetForm()
    if not form.validate_on_submit():
        flash(_("请输入新密码。"), "danger")
        return redirect(url_for("accounts.users"))
    try:
        user = service.reset_password(current_user, user_id, form.password.data)
    except ValidationError as exc:
        flash(next(iter(exc.fields.values()), exc.message), "danger")
        g.rollback = True
        return redirect(url_for("accounts.users"))
    flash(_("已重置 %(name)s 的密码，请当面告知本人；本人下次登录时须改设自己的密码。", name=user.username), "success")
    return redirect(url_for("accounts.users"))

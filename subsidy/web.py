"""The HTML edge: deny-by-default guard, one commit per request, errors turned into pages."""
from __future__ import annotations

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from subsidy.common.access import is_public_endpoint
from subsidy.common.database import finish
from subsidy.errors import DomainError
from subsidy.extensions import db, login_manager

STAFF_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _is_api() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def init_app(app):
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str):
        from subsidy.accounts.service import load_session_user

        return load_session_user(user_id)

    from subsidy.accountability.views import bp as accountability_bp
    from subsidy.accountability.views import public_bp as disclosures_bp
    from subsidy.accounts.views import bp as accounts_bp
    from subsidy.api import bp as api_bp
    from subsidy.api import register_api_modules
    from subsidy.audit.views import bp as audit_bp
    from subsidy.cases.views import bp as cases_bp
    from subsidy.catalogue.views import bp as catalogue_bp
    from subsidy.filings.views import bp as filings_bp
    from subsidy.households.views import bp as households_bp
    from subsidy.materials.views import bp as materials_bp
    from subsidy.notify.views import bp as notify_bp
    from subsidy.payments.views import bp as payments_bp
    from subsidy.policies.views import bp as policies_bp
    from subsidy.projects.views import bp as projects_bp
    from subsidy.public.staff_views import bp as mobile_admin_bp
    from subsidy.public.views import bp as public_bp
    from subsidy.recoveries.views import bp as recoveries_bp
    from subsidy.regions.views import bp as regions_bp
    from subsidy.stats.views import bp as stats_bp

    register_api_modules()
    for bp in (accounts_bp, audit_bp, households_bp, projects_bp, regions_bp, stats_bp, cases_bp, notify_bp, filings_bp,
               policies_bp, public_bp, mobile_admin_bp, payments_bp, accountability_bp, disclosures_bp, recoveries_bp,
               materials_bp, catalogue_bp, api_bp):
        app.register_blueprint(bp)

    @app.before_request
    def deny_by_default():
        if is_public_endpoint(request.endpoint):
            return None
        if _is_api():
            from subsidy.api import authenticate_bearer

            return authenticate_bearer()
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.after_request
    def security_headers(response):
        # Every staff page and every API answer, as the farmers' pages already were: no script
        # but the app's own files, nothing from another host, never inside another site's frame.
        # (A blueprint's stricter policy, set first, wins: setdefault.)
        policy = STAFF_CSP if response.mimetype == "text/html" else API_CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.after_request
    def commit_or_rollback(response):
        # The one commit of a request: services only flush. Anything but success rolls back,
        # so a form re-shown with errors (4xx) never leaves half a change behind; what a
        # refusal must leave on record is kept after the rollback (database.regardless).
        finish(db.session, commit=response.status_code < 400 and not g.get("rollback"))
        return response

    @app.teardown_request
    def rollback_on_error(exc):
        if exc is not None:
            finish(db.session, commit=False)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if _is_api():
            from subsidy.api.errors import error_response

            return error_response(exc.status, exc.code, exc.message, exc.fields)
        return render_template("errors/error.html", code=exc.status, message=exc.message), exc.status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        flash(_("页面已过期或来源不明，请重新提交。"), "danger")
        return render_template("errors/error.html", code=400, message=_("表单已过期，请返回刷新页面后重试。")), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _is_api():
            from subsidy.api.errors import error_response, http_code

            return error_response(exc.code, http_code(exc.code), exc.description or exc.name)
        messages = {
            403: _("您无权访问此页面。"),
            404: _("页面不存在，或不在您的管辖范围内。"),
            405: _("不支持此操作。"),
            413: _("上传的文件太大。"),
            429: _("操作太频繁，请稍后再试。"),
        }
        return render_template("errors/error.html", code=exc.code,
                               message=messages.get(exc.code, exc.description)), exc.code

    @app.route("/healthz")
    def healthz():
        db.session.execute(db.text("SELECT 1"))
        return jsonify(status="ok")

    healthz.is_public = True

    @app.route("/")
    def index():
        return redirect(url_for("stats.home"))

    from subsidy.common import templating

    templating.init_app(app)

"""惠农资金监管平台 — application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    from subsidy.common import params
    from subsidy.common.jsonbody import EdgeRequest
    from subsidy.config import load_settings

    # Bad input stops at the edge: ids bounded in every URL rule, JSON bodies bounded in depth,
    # NUL bytes refused in every field (before any other hook reads them).
    params.install(app)
    app.request_class = EdgeRequest
    from subsidy.common.text import refuse_nul_bytes

    app.before_request(refuse_nul_bytes)

    load_settings(app, config)
    from subsidy.common import logs

    logs.install()
    if app.config["PROXY_FIX_HOPS"]:
        n = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    from subsidy.common import database  # engine event hooks
    from subsidy.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        database.configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    from subsidy.common.model_base import render_item

    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True,
                     render_item=render_item, compare_type=True)
    csrf.init_app(app)
    from subsidy.common.i18n import install_template_gettext, select_locale

    babel.init_app(app, default_translation_directories=str(ROOT / "translations"), locale_selector=select_locale)
    install_template_gettext(app)
    limiter.init_app(app)
    # Templates get the lazy `current_user` proxy rather than Flask-Login's processor, which
    # loads the user for every template: on a farmer's page (a session without a staff login)
    # that ran strong session protection, which rewrote the session cookie on every view.
    login_manager.init_app(app, add_context_processor=False)
    from flask_login import current_user

    app.context_processor(lambda: {"current_user": current_user})

    from subsidy import (
        models,  # noqa: F401  (every model registered on the metadata)
        web,
    )

    web.init_app(app)
    from subsidy.cli import register_cli

    register_cli(app)
    return app

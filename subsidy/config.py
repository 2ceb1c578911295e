"""Settings: defaults here, then `instance/config.py`, then environment variables, then the
dict given to `create_app` (tests and scripts). docs/operations.md "Settings" lists the public ones."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key"


class Defaults:
    SECRET_KEY = DEFAULT_SECRET_KEY
    DATABASE_URL: str | None = None  # resolved to SQLite in instance/ by create_app
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # PostgreSQL planner settings for the app's sessions (space-separated name=value). The
    # default random_page_cost (4.0) prices disk seeks of spinning disks: with it, a filing's
    # 5,000 entries are joined to a million households by scanning them all (160 ms) instead of
    # 5,000 index look-ups (19 ms), measured by the benchmarks. Empty: the server's own.
    POSTGRES_SESSION_SETTINGS = "random_page_cost=1.1"
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    # The audit chain's HMAC key (subsidy.audit): never in the database. Empty: derived from
    # SECRET_KEY; set it in production so that a new SECRET_KEY leaves the chain verifiable.
    AUDIT_KEY = ""
    AUDIT_CHECKPOINT_DIR = ""  # signed daily heads of the chain; empty: instance/audit-checkpoints
    AUDIT_CHECKPOINT_SMS = True  # and the head's short code by SMS to the county's supervisors
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # turned on when PUBLIC_BASE_URL is https
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600  # Flask-Login's default is a year
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # a 100,000-row register is ~6 MB of xlsx
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Staff sign-in (subsidy.common.throttle): failed attempts only are counted.
    LOGIN_FAILURES_PER_ADDRESS = "30 per 10 minutes"
    LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = "5 per 10 minutes"
    LOGIN_ALERT_FAILURES = 50  # failures of one account from anywhere in LOGIN_ALERT_MINUTES: alert
    LOGIN_ALERT_MINUTES = 60
    API_TOKEN_HOURS = 12
    PASSWORD_MIN_SCORE = 2  # zxcvbn's 0–4 (subsidy.accounts.passwords)
    CASES_PER_FARMER_PER_DAY = 5  # cases from one phone or household a day (subsidy.cases.service)
    ID_ELSEWHERE_PER_HOUR = 10  # answers "registered in another village" per user (subsidy.households)
    PER_PAGE = 50
    PROXY_FIX_HOPS = 0  # set to the number of reverse proxies in front of the app
    # Farmers' mobile pages; see subsidy.public
    MOBILE_SESSION_MINUTES = 120
    # Per address: a flood cap on code requests (farmers behind a carrier's NAT share one
    # address; the per-number limits of subsidy.public.signin protect each farmer), and failed
    # requests and failed codes counted apart.
    MOBILE_CODE_LIMIT_PER_ADDRESS = "600 per hour;3000 per day"
    MOBILE_CODE_FAILURES_PER_ADDRESS = "30 per 10 minutes"
    MOBILE_VERIFY_FAILURES_PER_ADDRESS = "30 per 10 minutes"
    MOBILE_CODE_MIN_SECONDS = 0.3  # every code request answers no faster than this (no timing oracle)
    UPLOAD_FOLDER: str | None = None  # default instance/uploads
    POLICY_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    # SMS; see subsidy.notify
    SMS_GATEWAY = "console"
    TWILIO_ACCOUNT_SID = ""
    TWILIO_AUTH_TOKEN = ""
    TWILIO_FROM_NUMBER = ""
    TWILIO_MESSAGING_SERVICE_SID = ""
    TWILIO_BASE_URL = "https://api.twilio.com"
    SMS_RETRY_BASE_SECONDS = 30
    SMS_MAX_ATTEMPTS = 8
    SMS_LEASE_SECONDS = 120
    SMS_BATCH_SIZE = 50
    SMS_SIGNATURE = "【惠农】"
    SMS_OUTBOX_FILE = ""  # console gateway's file; empty: instance/sms-outbox.log
    SMS_POLL_SECONDS = 2.0  # worker's sleep when nothing is due
    SMS_STUCK_SENT_SECONDS = 6 * 3600  # a message `sent` this long without a final status is looked up
    TWILIO_TIMEOUT_SECONDS = 10.0  # per HTTP call to Twilio; a timeout is retried (ambiguous)
    # Supervision figures (subsidy.stats.cache): a computation slower than STATS_SLOW_SECONDS is
    # kept and served for STATS_CACHE_SECONDS with its time shown; faster ones are always live.
    STATS_SLOW_SECONDS = 1.0
    STATS_CACHE_SECONDS = 600
    # 实物补贴: households that have not collected their goods are reminded by SMS this many days
    # before the village's list closes (`flask materials remind`, daily).
    MATERIAL_REMINDER_DAYS = 3
    # How long a SQLite statement waits for the write lock before "database is locked".
    SQLITE_BUSY_TIMEOUT_MS = 30_000
    # Background jobs (SMS worker, escalation, stats refresh; subsidy.common.jobs) wait out a busy
    # or unreachable database: the n-th wait is up to min(MAX, BASE × 2^(n-1)) seconds, jittered.
    # One-shot commands give up after JOB_GIVE_UP_SECONDS (0: never); the worker never does.
    JOB_RETRY_BASE_SECONDS = 0.5
    JOB_RETRY_MAX_SECONDS = 30.0
    JOB_GIVE_UP_SECONDS = 3600.0


# Environment variables read as settings, with the type they are parsed to.
ENV_SETTINGS: dict[str, type] = {
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "AUDIT_KEY": str,
    "AUDIT_CHECKPOINT_DIR": str,
    "PUBLIC_BASE_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "PROXY_FIX_HOPS": int,
    "LOGIN_FAILURES_PER_ADDRESS": str,
    "LOGIN_FAILURES_PER_ACCOUNT_ADDRESS": str,
    "LOGIN_ALERT_FAILURES": int,
    "LOGIN_ALERT_MINUTES": int,
    "MOBILE_CODE_LIMIT_PER_ADDRESS": str,
    "MOBILE_CODE_FAILURES_PER_ADDRESS": str,
    "MOBILE_VERIFY_FAILURES_PER_ADDRESS": str,
    "CASES_PER_FARMER_PER_DAY": int,
    "ID_ELSEWHERE_PER_HOUR": int,
    "POSTGRES_SESSION_SETTINGS": str,
    "SMS_GATEWAY": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "TWILIO_FROM_NUMBER": str,
    "TWILIO_MESSAGING_SERVICE_SID": str,
    "TWILIO_BASE_URL": str,
    "SMS_RETRY_BASE_SECONDS": float,
    "SMS_MAX_ATTEMPTS": int,
    "SMS_LEASE_SECONDS": int,
    "SMS_SIGNATURE": str,
    "SMS_BATCH_SIZE": int,
    "SMS_OUTBOX_FILE": str,
    "SMS_POLL_SECONDS": float,
    "SMS_STUCK_SENT_SECONDS": int,
    "TWILIO_TIMEOUT_SECONDS": float,
    "STATS_SLOW_SECONDS": float,
    "STATS_CACHE_SECONDS": float,
    "MATERIAL_REMINDER_DAYS": int,
    "SQLITE_BUSY_TIMEOUT_MS": int,
    "JOB_RETRY_BASE_SECONDS": float,
    "JOB_RETRY_MAX_SECONDS": float,
    "JOB_GIVE_UP_SECONDS": float,
}


def load_settings(app, overrides: dict | None) -> None:
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)  # instance/config.py
    for name, kind in ENV_SETTINGS.items():
        if name in os.environ:
            app.config[name] = kind(os.environ[name])
    if overrides:
        app.config.update(overrides)

    # The instance folder holds the secret key, the SQLite database and the SMS outbox log: for
    # the service's own user only, whatever the umask.
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change (a shared mount): leave it to the operator
        instance.chmod(0o700)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "subsidy.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    planner = app.config["POSTGRES_SESSION_SETTINGS"].split()
    if planner and app.config["DATABASE_URL"].startswith("postgresql"):
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect_args = dict(options.get("connect_args", {}))
        connect_args["options"] = " ".join([connect_args.get("options", "")] + [f"-c {kv}" for kv in planner]).strip()
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}
    if app.config["PUBLIC_BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    if (
        app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY
        and not app.debug
        and not app.testing
        and not app.config.get("ALLOW_DEFAULT_SECRET_KEY")
    ):
        raise RuntimeError(
            "SECRET_KEY is the built-in development key. Sessions and CSRF tokens signed with it "
            "can be forged by anyone who has read the source. Set SECRET_KEY in the environment "
            "or in instance/config.py (e.g. python -c 'import secrets; print(secrets.token_hex(32))')."
        )

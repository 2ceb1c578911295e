"""Browser tests: the app in a real server thread, driven by Playwright on Debian's Chromium.

Playwright's own browser download cannot work here (no outside network), so the browser is the
distribution's (`tools/install-browser.sh` installs it; `CHROMIUM_PATH` overrides the path). The
live app shares the test database with the `app` fixture, which creates the schema and empties
the tables after every test; the live app has CSRF on, as in production. Screenshots go to
test-artifacts/ (git-ignored)."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from subsidy import create_app

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def live_server(app, database_url, tmp_path_factory):
    """The platform on 127.0.0.1:<free port> in a thread, against the test database."""
    live = create_app({
        # The suite's key: a test derives a sign-in code as the worker would (tests/farmer_support).
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": app.config["SECRET_KEY"],
        "RATELIMIT_ENABLED": False, "MOBILE_CODE_MIN_SECONDS": 0,
        "SMS_OUTBOX_FILE": str(tmp_path_factory.mktemp("sms-live") / "sms-outbox.log"),
        "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads-live")),
    })
    server = make_server("127.0.0.1", 0, live, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    live.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join(5)
    with live.app_context():
        from subsidy.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):  # CI installs it (make test → tools/install-browser.sh): never skip there
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}: run tools/install-browser.sh (or set CHROMIUM_PATH)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Network:
    """Every request the pages of one browser context made."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []  # (url of the page that asked, url asked)

    def off_host(self, base: str) -> list[tuple[str, str]]:
        host = urlsplit(base).netloc
        return [(page, url) for page, url in self.requests
                if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != host]


def _context(browser, viewport, **kw):
    context = browser.new_context(viewport=viewport, locale="zh-CN", **kw)
    context.set_default_timeout(15_000)
    network = Network()
    context.on("request", lambda req: network.requests.append((req.frame.url if req.frame else "", req.url)))
    page = context.new_page()
    page.dialogs = []  # the app's confirm() before irreversible steps: answered yes, and counted

    def answer(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    # Script errors and Content-Security-Policy refusals ("Refused to execute inline script …")
    # show in the console: a page that breaks there fails its test.
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page, network


def _no_errors(page) -> None:
    # A form refused for its input answers 422 on purpose (the page shows the field's message),
    # and Chromium logs any 4xx to the console: that is not a page error.
    errors = [e for e in page.errors if "favicon.ico" not in e and "status of 422" not in e]
    assert errors == [], errors


@pytest.fixture
def phone(browser):
    context, page, network = _context(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.network = network
    yield page
    _no_errors(page)
    context.close()


@pytest.fixture
def desktop(browser):
    context, page, network = _context(browser, DESKTOP)
    page.network = network
    yield page
    _no_errors(page)
    context.close()


@pytest.fixture
def shot(request):
    """shot(page, "name"): a full-page screenshot in test-artifacts/<test>-<n>-<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    counter = iter(range(1, 100))

    def _shot(page, name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


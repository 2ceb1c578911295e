"""The imports load test (bench/load_imports.py) runs in the suite in its small size, so it cannot
rot: ten clerks import household files through gunicorn while farmers sign in with SMS codes
and the SMS worker sends them, on SQLite. What is checked is that all of it went through, that
no "database is locked" showed anywhere and that the worker never exited. Never a time."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.load, pytest.mark.slow]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the load test runs on its own SQLite file: it runs in the suite's SQLite pass")
    tmp = tmp_path_factory.mktemp("load_imports")
    out = tmp / "report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_REPORT", "DATABASE_URL")}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "load_imports.py"), "--small", "--database-url",
                           f"sqlite:///{tmp}/load.sqlite3", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.exists(), f"load_imports.py exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(out.read_text())


def test_no_database_is_locked_and_the_worker_never_exited(report):
    assert report["locked"] == 0, report
    assert report["worker_exits"] == 0 and report["worker_exit_code"] == 0, report
    assert report["tracebacks_in_server_log"] == 0 and report["tracebacks_in_worker_log"] == 0, report


def test_every_import_and_sign_in_went_through(report):
    imports = report["imports"]
    assert imports["done"] == imports["expected"] == 20 and not imports["failed"], imports
    assert imports["rows_written"] == 10 * 200 * 2  # created, then every phone updated
    signins = report["signins"]
    assert signins["completed"] >= 8 and not signins["failed"], signins
    assert report["sms_left"] == 0 and report["server_errors"] == 0
    assert report["passed"]


def test_its_figures_are_recorded(report):
    keys = {f["key"] for f in report["figures"]}
    assert keys == {"sqlite_import_locked", "sqlite_import_worker_exits", "sqlite_import_signin_p95"}
    assert all(f["met"] is None for f in report["figures"])  # a small run judges nothing

"""`make bench` in its CI size (issue 8: the generator and the benchmarks run in CI so that they
cannot rot). It runs on the database the suite runs on — SQLite, or a scratch PostgreSQL
database beside TEST_DATABASE_URL's — and checks that every figure of the target table was
recorded for it. No time is asserted: a small run judges no target."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import read
from bench.run import TARGETS
from tests.bench_support import scratch_postgres

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parent.parent
# Figures that exist on one database only.
SQLITE_ONLY = {"sqlite_locked"}


@pytest.mark.slow
def test_every_benchmark_runs_small_and_records_its_figures(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BENCH_REPORT", None)
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    drop = None
    if test_url.startswith("postgresql"):
        only, label = "postgresql", "PostgreSQL"
        env["BENCH_DATABASE_URL"], drop = scratch_postgres(test_url, "_bench")
    else:
        only, label = "sqlite", "SQLite"
    report = tmp_path / "figures.jsonl"
    try:
        done = subprocess.run([sys.executable, "-m", "bench.run", "--small", "--only", only, "--report", str(report)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        if drop:
            drop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    figures = [f for f in read(str(report)) if f.database == label]
    keys = {f.key for f in figures}
    expected = {key for key, _ in TARGETS} - (SQLITE_ONLY if only == "postgresql" else set())
    assert expected <= keys, f"not recorded on {label}: {sorted(expected - keys)}"
    for f in figures:
        assert f.value is not None and f.value >= 0, f
        if f.baseline is not None:
            assert f.baseline > 0 and f.ratio is not None, f
    # The one table the runner prints holds every recorded figure, and no target row is missing.
    table = done.stdout.split("=== targets", 1)[1]
    for f in figures:
        assert f.label in table, f.label
    missing = [line for line in table.splitlines() if "not measured" in line]
    assert len(missing) == (len(SQLITE_ONLY) if only == "postgresql" else 0), missing

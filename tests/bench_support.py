"""Shared by the tests that run the benchmarks (tests/test_bench_*.py)."""
from __future__ import annotations

import sqlalchemy as sa


def scratch_postgres(url: str, suffix: str):
    """A database named after the suite's own with `suffix` appended (created when missing:
    the benchmarks drop and rebuild its schema, never the suite's), and a function that drops it."""
    parsed = sa.make_url(url)
    name = f"{parsed.database}{suffix}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return parsed.set(database=name).render_as_string(hide_password=False), drop

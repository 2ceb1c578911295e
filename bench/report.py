"""One figure of the target table, as each benchmark reports it to `bench.run`.

A benchmark prints its own detail for a reader, and calls `record(...)` once per figure of the
target table. When `bench.run` starts it, `BENCH_REPORT` names a JSON-lines file the records are
appended to; `bench.run` then prints them all as one table (figure, baseline measured in the same
run, ratio, target, met). Run on its own, a benchmark records nothing and prints as before.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

REPORT_ENV = "BENCH_REPORT"
DATABASE_ENV = "BENCH_DATABASE_LABEL"


@dataclass
class Figure:
    """`value` and `baseline` in `unit`; `ratio` = value ÷ baseline (or the figure's own ratio
    where the target is stated as one); `target` is text such as "≤ 1.5" or "< 300 ms";
    `met` is None where the run was too small to judge."""

    key: str
    label: str
    value: float
    unit: str
    target: str
    met: bool | None
    baseline: float | None = None
    ratio: float | None = None
    database: str = ""
    note: str = ""
    size: str = ""


def record(figure: Figure) -> Figure:
    figure.database = figure.database or os.environ.get(DATABASE_ENV, "")
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(figure), ensure_ascii=False) + "\n")
    return figure


def read(path: str) -> list[Figure]:
    figures = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as lines:
            figures = [Figure(**json.loads(line)) for line in lines if line.strip()]
    return figures


def medians(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    """Median seconds of `runs` calls, and every time (the machine is noisy: medians count)."""
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def at_most(value: float, limit: float) -> bool:
    return value <= limit


def at_least(value: float, limit: float) -> bool:
    return value >= limit

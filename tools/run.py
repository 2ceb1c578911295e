"""`make run`: the web server with the jobs a county's server runs beside it (docs/operations.md
"Command line"), as one foreground process for a demo or a single-machine trial.

    python -m tools.run [--host 127.0.0.1] [--port 5000]

Children, each `flask --app subsidy …` in its own process group:

- `run` (the development web server) and `sms worker` (drains the SMS outbox; with the
  default console gateway it writes instance/sms-outbox.log): long-running, restarted when one
  dies (at most RESTARTS times in RESTART_WINDOW seconds; then the supervisor reports it and
  stops everything, rather than serve a platform that silently sends nothing);
- `cases escalate`, `materials remind` and `filings cross-county` at start and then every 24 hours, `stats refresh`
  at start and then every 5 minutes: run to completion at their rhythm; a failure is reported
  and tried again at the next tick.

Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after GRACE seconds) and exits.
Children are asked by the kernel to die with the supervisor (PR_SET_PDEATHSIG on Linux), so a
killed supervisor leaves nothing behind.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

GRACE = 10.0
RESTARTS = 5
RESTART_WINDOW = 60.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def log(message: str) -> None:
    print(f"[run {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Child:
    name: str
    args: list[str]
    every: float | None = None  # None: long-running; else a job run every `every` seconds
    proc: subprocess.Popen | None = None
    next_run: float = 0.0
    deaths: deque = field(default_factory=deque)

    def start(self, env: dict) -> None:
        cmd = [sys.executable, "-m", "flask", "--app", "subsidy", *self.args]
        self.proc = subprocess.Popen(
            cmd, env=env, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        log(f"started {self.name} (pid {self.proc.pid}): flask {' '.join(self.args)}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(self, host: str, port: int, stats_every: float = 300.0, escalate_every: float = 86400.0,
                 env: dict | None = None):
        self.env = dict(env if env is not None else os.environ)
        self.env.setdefault("FLASK_APP", "subsidy")
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.children = [
            Child("web", ["run", "--host", host, "--port", str(port), "--no-reload"]),
            Child("sms worker", ["sms", "worker"]),
            Child("cases escalate", ["cases", "escalate"], every=escalate_every),
            Child("materials remind", ["materials", "remind"], every=escalate_every),
            Child("filings cross-county", ["filings", "cross-county"], every=escalate_every),
            Child("stats refresh", ["stats", "refresh"], every=stats_every),
        ]
        self.stopping = False
        self.failed = False

    def _on_signal(self, signum, frame) -> None:
        if not self.stopping:
            log(f"{signal.Signals(signum).name}: stopping")
        self.stopping = True

    def tick(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.every is None:
                if child.running():
                    continue
                if child.proc is not None:
                    code = child.proc.returncode
                    child.deaths.append(now)
                    while child.deaths and now - child.deaths[0] > RESTART_WINDOW:
                        child.deaths.popleft()
                    if len(child.deaths) > RESTARTS:
                        log(f"{child.name} exited with {code} {len(child.deaths)} times in "
                            f"{RESTART_WINDOW:.0f} s: giving up, stopping everything")
                        self.failed = self.stopping = True
                        return
                    log(f"{child.name} exited with {code}: restarting")
                child.start(self.env)
            else:
                if child.running():
                    continue
                if child.proc is not None:
                    code = child.proc.returncode
                    if code:
                        log(f"{child.name} failed (exit {code}); next try at its next run")
                    child.proc = None
                if now >= child.next_run:
                    child.next_run = now + child.every
                    child.start(self.env)

    def stop(self) -> None:
        alive = [c for c in self.children if c.running()]
        for child in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        for child in alive:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{child.name} did not stop in {GRACE:.0f} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
            log(f"stopped {child.name} (exit {child.proc.returncode})")

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            while not self.stopping:
                self.tick()
                time.sleep(0.5)
        finally:
            self.stop()
        return 1 if self.failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--stats-every", type=float, default=300.0, help="seconds between stats refreshes")
    parser.add_argument("--escalate-every", type=float, default=86400.0, help="seconds between escalation runs")
    args = parser.parse_args(argv)
    return Supervisor(args.host, args.port, args.stats_every, args.escalate_every).run()


if __name__ == "__main__":
    sys.exit(main())

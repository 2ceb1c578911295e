"""gunicorn and wrk for the load tests (bench/load.py): a server on a free port of 127.0.0.1,
wrk runs against it (the Lua scripts under bench/wrk/ print one `WRK_JSON` line), and a plain
HTTP GET for single requests."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WRK_DIR = HERE / "wrk"
USER_AGENT = "subsidy-bench/1 (wrk)"  # the one in bench/wrk/common.lua: staff sessions are tied to it
CONNECTIONS = 50


# --- results ----------------------------------------------------------------------------------

@dataclass
class Run:
    """One wrk run: throughput, latency percentiles (ms), error counts and the script's counters."""

    scenario: str
    path: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict
    counters: dict
    note: str = ""
    label: str = ""
    single_ms: float | None = None  # one client, one request at a time (the warm-up's median)

    @property
    def bad(self) -> int:
        """Answers other than 2xx/3xx, plus connections that failed or timed out."""
        e = self.errors
        return int(e.get("status", 0) + e.get("connect", 0) + e.get("read", 0) + e.get("write", 0)
                   + e.get("timeout", 0))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving the app on a free port of 127.0.0.1; its stdout and stderr (gunicorn's
    error log and the app's log) go to `log`."""

    def __init__(self, url: str, secret: str, workers: int, worker_class: str, threads: int, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.describe = (f"gunicorn {workers} × {worker_class}"
                         + (f" × {threads} threads" if worker_class == "gthread" else ""))
        overrides = {"RATELIMIT_ENABLED": False}
        self.argv = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", worker_class,
                     "--threads", str(threads), "--bind", f"127.0.0.1:{self.port}", "--timeout", "120",
                     "--graceful-timeout", "10", "--error-logfile", "-", "--log-level", "warning",
                     "--preload",  # import the app once, then fork: quicker start on 2 busy cores
                     f"subsidy:create_app({overrides!r})"]
        self.env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secret, "PYTHONPATH": str(ROOT)}
        self.process = None

    def __enter__(self) -> Server:
        self._out = open(self.log, "ab")
        self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self._out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer /healthz within 90 s; see {self.log}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the arbiter stops its workers gracefully
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._out.close()

    def wrk(self, *args, **kwargs) -> Run:
        run = wrk(self.base, *args, **kwargs)
        if not self.drain():
            # Pages that take seconds leave minutes of backlog: start afresh rather than wait.
            self.__exit__(None, None, None)
            self.__enter__()
            run.note = "server restarted after the run to drop its backlog"
        return run

    def drain(self, limit: float = 20) -> bool:
        """Wait until the workers have served what wrk left queued when it stopped (wrk closes
        its connections, but each worker still serves every request it had accepted), so that
        one scenario's backlog does not slow the next: until the workers' CPU time stands still.
        (A /healthz probe cannot tell: it may reach an idle worker while the other is busy.)"""
        started = time.monotonic()
        last = self.worker_cpu()
        while time.monotonic() - started < limit:
            time.sleep(0.5)
            now = self.worker_cpu()
            if now - last < 0.05:  # under 10 % of a core over the half second
                return True
            last = now
        return False

    def worker_cpu(self) -> float:
        """CPU seconds used so far by the master's children, the workers (from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:  # fields: state, ppid, ..., utime (12), stime (13)
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_count(self, text: str, since: int = 0) -> int:
        with open(self.log, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace").count(text)


def get(base: str, path: str, headers: dict, timeout: float = 120) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers={"User-Agent": USER_AGENT, **headers})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


# --- wrk --------------------------------------------------------------------------------------

def request_line(method: str, path: str, body: str = "", headers: dict | None = None) -> str:
    fields = [method, path, body] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    assert not any("\t" in f or "\n" in f for f in fields)
    return "\t".join(fields)


def wrk(base: str, script: str, args: list[str], seconds: float, scenario: str, path: str, threads: int,
        connections: int = CONNECTIONS) -> Run:
    argv = ["wrk", "--threads", str(threads), "--connections", str(connections), "--duration", f"{seconds:g}s",
            "--timeout", "30s", "--latency", "--script", str(WRK_DIR / script), base + "/", "--", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}) for {scenario}:\n{done.stdout}\n{done.stderr}")
    out = json.loads(line.removeprefix("WRK_JSON "))
    return Run(scenario, path, int(out["requests"]), out["seconds"], out["rps"], out["p50_ms"], out["p95_ms"],
               out["p99_ms"], out["max_ms"], out["errors"], out.get("counters") or {})

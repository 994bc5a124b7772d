"""Real worker processes (``leadrank worker``) and the real Redis, for the crash tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("LEADRANK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# How this machine's Redis is (re)started after the crash test that stops it: as the
# development machines and scripts/ensure-services.sh start it (no persistence).
_REDIS_DIR = "/var/lib/redis" if os.access("/var/lib/redis", os.W_OK) else "/tmp/leadrank-redis"
_REDIS_LOG = "/var/log/redis/ci.log" if os.access("/var/log/redis", os.W_OK) else f"{_REDIS_DIR}/redis.log"
REDIS_START = os.environ.get(
    "LEADRANK_TEST_REDIS_START",
    f'mkdir -p {_REDIS_DIR} && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    f"--appendonly no --dir {_REDIS_DIR} --logfile {_REDIS_LOG}",
)


def redis_problem() -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1,
              on_timeout: Callable[[], str] | None = None) -> object:
    """Poll ``predicate`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = on_timeout() if on_timeout else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{extra}")
        time.sleep(interval)


def _leadrank_command() -> list[str]:
    script = Path(sys.executable).with_name("leadrank")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from leadrank.cli import app; app()"]


@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def events(self) -> list[dict]:
        """The worker's JSON log lines."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def tail(self, n: int = 40) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return f"--- worker {self.pid} ---\n" + "\n".join(lines[-n:])


@dataclass
class Workers:
    env: dict[str, str]
    log_dir: Path
    procs: list[WorkerProcess] = field(default_factory=list)

    def start(self, n: int = 1, *, wait: bool = True) -> list[WorkerProcess]:
        started = []
        for _ in range(n):
            log_path = self.log_dir / f"worker-{len(self.procs)}.log"
            handle = log_path.open("w")
            proc = subprocess.Popen([*_leadrank_command(), "worker", "--threads", "1"], env=self.env,
                                    stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
            handle.close()
            worker = WorkerProcess(proc, log_path)
            self.procs.append(worker)
            started.append(worker)
        if wait:
            self.wait_started(started)
        return started

    def wait_started(self, workers: list[WorkerProcess]) -> None:
        for worker in workers:
            wait_for(lambda w=worker: not w.alive() or any(e.get("msg") == "worker started" for e in w.events()),
                     timeout=90, what=f"worker {worker.pid} to start", interval=0.2, on_timeout=self.tails)
            if not worker.alive():
                pytest.fail(f"worker exited at start\n{worker.tail()}")

    def live(self) -> list[WorkerProcess]:
        return [w for w in self.procs if w.alive()]

    def ensure(self, n: int) -> None:
        """``n`` live workers, all consuming."""
        missing = n - len(self.live())
        if missing > 0:
            self.start(missing, wait=False)
        self.wait_started(self.live())

    def kill(self, worker: WorkerProcess) -> None:
        os.kill(worker.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)

    def stop_all(self) -> None:
        for worker in self.live():
            worker.proc.send_signal(signal.SIGTERM)
        for worker in self.procs:
            try:
                worker.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait(timeout=10)

    def events(self, job_id: str | None = None, msg: str | None = None) -> list[tuple[int, dict]]:
        out = []
        for worker in self.procs:
            for event in worker.events():
                if job_id is not None and event.get("job_id") != job_id:
                    continue
                if msg is not None and event.get("msg") != msg:
                    continue
                out.append((worker.pid, event))
        return out

    def tails(self) -> str:
        return "\n".join(w.tail() for w in self.procs)


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-u", REDIS_URL, "shutdown", "nosave"], capture_output=True, timeout=10)
    wait_for(lambda: redis_problem() is not None, timeout=10, what="Redis to stop")


def start_redis() -> None:
    if redis_problem() is None:
        return
    subprocess.run(REDIS_START, shell=True, check=True, capture_output=True, timeout=20)
    wait_for(lambda: redis_problem() is None, timeout=20, what="Redis to start again")

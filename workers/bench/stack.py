"""The embedded stack as `triage serve` runs it (Redis, API, worker), started for one benchmark run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from service.cli import _worker_env, api_command, worker_command
from service.config import Settings
from service.embedded import free_port, start_redis, wait_for_port
from service.storage.migrate import upgrade

API_KEY = "bench-api-key"


@contextmanager
def database(kind: str, work_dir: Path, postgres_admin_url: str) -> Iterator[str]:
    """Yield a migrated, empty database URL: a SQLite file, or a throwaway PostgreSQL database."""
    if kind == "sqlite":
        url = f"sqlite:///{(work_dir / f'bench-{uuid.uuid4().hex[:6]}.db').resolve()}"
        upgrade(url)
        yield url
        return
    name = f"triage_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Stack:
    """Redis, the API (uvicorn, `api_workers` processes) and optionally one Celery worker."""

    work_dir: Path
    database_url: str
    tenants_file: Path
    api_workers: int = 2
    worker_processes: int = 0
    settings_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_port = free_port()
        self.metrics_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        """Start every process and wait until the API answers and the worker serves its metrics."""
        redis, redis_url = start_redis(self.work_dir / f"redis-{uuid.uuid4().hex[:6]}")
        self.processes["redis"] = redis
        env = _worker_env(
            {
                "TRIAGE_ENVIRONMENT": "development",
                "TRIAGE_REDIS_URL": redis_url,
                "TRIAGE_API_KEY": API_KEY,
                "TRIAGE_TENANTS_FILE": str(self.tenants_file),
                "TRIAGE_DATA_DIR": str(self.work_dir.resolve()),
                "TRIAGE_DATABASE_URL": self.database_url,
                "TRIAGE_PUBLIC_URL": self.api_url,
                "TRIAGE_WORKER_METRICS_HOST": "127.0.0.1",
                "TRIAGE_WORKER_METRICS_PORT": str(self.metrics_port),
                **self.settings_env,
            }
        )
        api_env = {**env, "PROMETHEUS_MULTIPROC_DIR": self._fresh_dir("api-metrics")}
        self.processes["api"] = self._spawn(
            "api",
            [*api_command("127.0.0.1", self.api_port, Settings()), "--workers", str(self.api_workers)],
            api_env,
        )
        if self.worker_processes:
            worker_env = {**env, "PROMETHEUS_MULTIPROC_DIR": self._fresh_dir("worker-metrics")}
            self.processes["worker"] = self._spawn(
                "worker",
                worker_command(
                    "inference,actions",
                    self.worker_processes,
                    beat_schedule=self.work_dir / f"beat-{uuid.uuid4().hex[:6]}",
                    hostname=f"bench-{uuid.uuid4().hex[:6]}@%h",
                ),
                worker_env,
            )
        wait_for_port(self.api_port, timeout=60)
        self._wait_ok(f"{self.api_url}/healthz")
        if self.worker_processes:
            wait_for_port(self.metrics_port, timeout=120)

    def worker_ready_url(self) -> str:
        """Return the worker's readiness URL (200 once every process holds the model)."""
        return f"http://127.0.0.1:{self.metrics_port}/readyz"

    def _fresh_dir(self, name: str) -> str:
        path = self.work_dir / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return str(path)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.work_dir / f"{name}.log").open("ab")
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_ok(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f}s")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}); see {self.work_dir}/{name}.log")

    def peak_rss(self) -> list[tuple[str, int, int]]:
        """Return (process, peak and current resident bytes) for every process, children included."""
        found: list[tuple[str, int, int]] = []
        for name, process in self.processes.items():
            found.append((name, *_rss(process.pid)))
            for index, child in enumerate(sorted(_children(process.pid)), start=1):
                found.append((f"{name} child {index}", *_rss(child)))
        return found

    def stop(self) -> None:
        """Stop every process (SIGTERM to each process group, SIGKILL after 20 s)."""
        for process in reversed(list(self.processes.values())):
            _signal(process, signal.SIGTERM)
        for process in reversed(list(self.processes.values())):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait(timeout=5)


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the process's group when it leads one (API, worker), else the process alone (Redis)."""
    if process.poll() is not None:
        return
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and brackets; fields after the last ')' are fixed.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def _rss(pid: int) -> tuple[int, int]:
    """Return a process's peak (VmHWM) and current (VmRSS) resident set size in bytes; 0 if gone."""
    sizes = {"VmHWM": 0, "VmRSS": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in sizes:
                sizes[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return sizes["VmHWM"], sizes["VmRSS"]

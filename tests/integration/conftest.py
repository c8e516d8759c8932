"""A real stack for integration tests: our own redis-server, uvicorn, a Celery worker, a receiver."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.cli import api_command, worker_command
from service.embedded import free_port, start_redis, wait_for_port
from service.storage.db import session_factory
from tests.conftest import API_KEY
from tests.integration.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"integration-secret-0123456789abc").decode()


class RedisServer:
    """A redis-server of our own, so a test can stop and restart it without touching anyone else's."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process, _ = start_redis(self.data_dir, self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as running:
        yield running


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll until `predicate` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")


class Stack:
    """The API and workers as separate processes, configured only through the environment."""

    def __init__(
        self, tmp_path: Path, redis: RedisServer, database_url: str, receiver: Receiver, **overrides: str
    ):
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.sessions = session_factory(database_url)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "TRIAGE_ENVIRONMENT": "test",
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_DATABASE_URL": database_url,
            "TRIAGE_REDIS_URL": redis.url,
            "TRIAGE_API_KEY": API_KEY,
            "TRIAGE_CLASSIFIER": "tests.fakes.classifier:MarkerClassifier",
            "TRIAGE_OUTBOUND_WEBHOOK_URL": receiver.url,
            "TRIAGE_OUTBOUND_WEBHOOK_SECRET": SECRET,
            "TRIAGE_OUTBOUND_ALLOW_PRIVATE": "true",
            "TRIAGE_OUTBOUND_TIMEOUT_SECONDS": "1",
            "TRIAGE_RETRY_SCHEDULE_SECONDS": "[1, 1, 1, 1]",
            "TRIAGE_SWEEP_INTERVAL_SECONDS": "1",
            "TRIAGE_TRIAGE_DEADLINE_SECONDS": "4",
            "TRIAGE_VISIBILITY_TIMEOUT_SECONDS": "30",
            "TRIAGE_ENQUEUE_TIMEOUT_SECONDS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "TOKENIZERS_PARALLELISM": "false",
            **overrides,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"{name}-{len(self.logs)}.log"
        self.logs.append(log_path)
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a test can SIGKILL parent and children
        )
        self.processes.append(process)
        return process

    def start_api(self) -> subprocess.Popen[bytes]:
        process = self._spawn("api", api_command("127.0.0.1", self.api_port))
        wait_for_port(self.api_port, timeout=30)
        return process

    def start_worker(self, queues: str = "inference,actions", beat: bool = True) -> subprocess.Popen[bytes]:
        beat_schedule = self.tmp_path / f"beat-{len(self.logs)}" if beat else None
        return self._spawn(
            "worker", worker_command(queues, 1, beat_schedule=beat_schedule, hostname=f"w{len(self.logs)}@%h")
        )

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": API_KEY}, timeout=10)

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        with self.client() as client:
            return client.get(f"/v1/tickets/{ticket_id}").json()  # type: ignore[no-any-return]

    def dump_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.logs if p.exists()
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def make_stack(
    tmp_path: Path, redis_server: RedisServer, receiver: Receiver, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(database_url: str | None = None, **overrides: str) -> Stack:
        if database_url is None:
            database_url = request.getfixturevalue("sqlite_url")
        stack = Stack(tmp_path, redis_server, database_url, receiver, **overrides)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(stack.dump_logs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)

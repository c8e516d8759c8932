"""A running stack scraped by a real Prometheus: redis-server, uvicorn, a Celery worker, a receiver."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from service.cli import api_command, worker_command
from service.embedded import free_port, start_redis, wait_for_port
from service.storage.migrate import upgrade
from tests.observability.promql import ROOT, RULES

API_KEY = "observability-test-key"
OUTBOUND_SECRET = "whsec_" + base64.b64encode(b"observability-outbound-0123456789").decode()
INBOUND_SECRET = "whsec_" + base64.b64encode(b"observability-inbound-0123456789a").decode()
SCRAPE_INTERVAL_SECONDS = 1
# The apt line .ci/run uses; named in the failure so a developer knows what to run.
INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll until `predicate` returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (httpx.HTTPError, OSError) as exc:
            value = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout:.0f}s; last value: {value!r}")


class Receiver:
    """A helpdesk stand-in: answers 429 once to `ratelimit-*` tickets, 410 to `gone-*`, 200 otherwise."""

    def __init__(self) -> None:
        self.limited: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                external_id = body["data"]["external_id"]
                key = self.headers.get("webhook-id", "")
                status, headers = 200, {}
                if external_id.startswith("gone-"):
                    status = 410
                elif external_id.startswith("ratelimit-"):
                    with receiver.lock:
                        if key not in receiver.limited:
                            receiver.limited.add(key)
                            status, headers = 429, {"retry-after": "1"}
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ObservedStack:
    """The API, a worker and Prometheus as separate processes, like `triage serve` plus a Prometheus."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.receiver = Receiver()
        self.database_url = f"sqlite:///{tmp_path / 'triage.db'}"
        upgrade(self.database_url)
        self.redis, self.redis_url = start_redis(tmp_path / "redis")
        self.api_port = free_port()
        self.worker_metrics_port = free_port()
        self.prometheus_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"
        self.env = {
            **os.environ,
            "TRIAGE_ENVIRONMENT": "test",
            "TRIAGE_DATA_DIR": str(tmp_path / "data"),
            "TRIAGE_DATABASE_URL": self.database_url,
            "TRIAGE_REDIS_URL": self.redis_url,
            "TRIAGE_TENANTS_FILE": str(self._tenants_file()),
            "TRIAGE_POLICY_FILE": str(self._policy_file()),
            "TRIAGE_CLASSIFIER": "tests.observability.fakes:CountingClassifier",
            "TRIAGE_OUTBOUND_ALLOW_PRIVATE": "true",
            "TRIAGE_OUTBOUND_TIMEOUT_SECONDS": "2",
            "TRIAGE_RETRY_SCHEDULE_SECONDS": "[1, 1, 1]",
            "TRIAGE_SWEEP_INTERVAL_SECONDS": "2",
            # The retention job runs (and reports) a few times while the stack is up.
            "TRIAGE_RETENTION_INTERVAL_SECONDS": "2",
            "TRIAGE_WORKER_METRICS_PORT": str(self.worker_metrics_port),
            "TRIAGE_METRICS_PUBLIC": "false",
            # Rank reply templates by word overlap: the MiniLM encoder would load torch for nothing here.
            "TRIAGE_DRAFT_ENCODER": "lexical",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        (tmp_path / "data").mkdir()

    def _tenants_file(self) -> Path:
        path = self.tmp_path / "tenants.yaml"
        tenant = {
            "name": "default",
            "api_keys": [API_KEY],
            "connectors": {"standard": {"secret": INBOUND_SECRET}},
            "outbound_webhook_url": self.receiver.url,
            "outbound_webhook_secret": OUTBOUND_SECRET,
        }
        path.write_text(yaml.safe_dump({"tenants": [tenant]}))
        return path

    def _policy_file(self) -> Path:
        """Write the shipped policy with its reply drafts in shadow mode, so shadow decisions happen."""
        policy = yaml.safe_load((ROOT / "workers" / "routing" / "default_policy.yaml").read_text())
        drafted = [rule for rule in policy["rules"] if "draft_reply" in rule.get("actions", {})]
        assert drafted, "the default policy has no rule that drafts replies"
        for rule in drafted:
            rule["shadow"] = True
        path = self.tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(policy))
        return path

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_path = self.tmp_path / f"{name}.log"
        self.logs.append(log_path)
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        """Start the API (single process), the worker (prefork, multiprocess metrics) and Prometheus."""
        self._spawn("api", api_command("127.0.0.1", self.api_port), self.env)
        metrics_dir = self.tmp_path / "worker-metrics"
        metrics_dir.mkdir()
        self._spawn(
            "worker",
            worker_command(
                "inference,actions",
                1,
                beat_schedule=self.tmp_path / "beat-schedule",
                hostname="observed@%h",
            ),
            {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        )
        self._start_prometheus()
        wait_for_port(self.api_port, timeout=30)
        wait_for_port(self.worker_metrics_port, timeout=30)
        wait_for(
            lambda: httpx.get(f"{self.prometheus_url}/-/ready", timeout=2).status_code == 200,
            30,
            "Prometheus ready",
        )

    def _start_prometheus(self) -> None:
        binary = shutil.which("prometheus")
        assert binary, f"the prometheus binary is not on the PATH ({INSTALL_HINT})"
        interval = f"{SCRAPE_INTERVAL_SECONDS}s"
        config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            # The real rules: Prometheus refuses to start if one does not load.
            "rule_files": [str(RULES / "*.yml")],
            "scrape_configs": [
                {
                    "job_name": "triage-api",
                    # /metrics is restricted in this stack: scrape it as operators must, with the key.
                    "authorization": {"type": "Bearer", "credentials": API_KEY},
                    "static_configs": [{"targets": [f"127.0.0.1:{self.api_port}"]}],
                },
                {
                    "job_name": "triage-worker",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.worker_metrics_port}"]}],
                },
            ],
        }
        config_path = self.tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self._spawn(
            "prometheus",
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                "--log.level=warn",
            ],
            dict(os.environ),
        )

    def api(self) -> httpx.Client:
        """Return a client of the API with the default tenant's key."""
        return httpx.Client(base_url=self.api_url, headers={"X-API-Key": API_KEY}, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query now; fail with Prometheus's error if it does not parse."""
        response = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr!r}: {body.get('errorType')}: {body.get('error')}"
        return body["data"]["result"]  # type: ignore[no-any-return]

    def series(self, match: str) -> list[dict[str, str]]:
        """Return the label sets of every series `match` selects."""
        response = httpx.get(f"{self.prometheus_url}/api/v1/series", params={"match[]": match}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{match!r}: {body.get('error')}"
        return body["data"]  # type: ignore[no-any-return]

    def targets_up(self) -> bool:
        """Return whether Prometheus scraped both targets successfully."""
        results = self.query('up{job=~"triage-api|triage-worker"} == 1')
        return len(results) == 2

    def scraped_after(self, moment: float) -> bool:
        """Return whether both targets have been scraped successfully since `moment` (Unix seconds)."""
        results = self.query('timestamp(up{job=~"triage-api|triage-worker"} == 1)')
        return len(results) == 2 and all(float(r["value"][1]) > moment for r in results)

    def dump_logs(self) -> str:
        """Return the tail of every process log, for a failing test's output."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in self.logs
            if path.exists()
        )

    def stop(self) -> None:
        """Stop every process this stack started (each in its own process group), Redis and the receiver."""
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.redis.terminate()
        self.redis.wait(timeout=10)
        self.receiver.close()

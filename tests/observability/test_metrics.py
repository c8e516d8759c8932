"""The metric modules: naming conventions, the API's /metrics access rule, and what each hook counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from sqlalchemy.orm import Session, sessionmaker

import service.metrics as api_metrics
import workers.metrics as worker_metrics
from service.config import Settings
from service.domain import ActionKind, Decision, FrustrationScore, PlannedAction, TicketStatus, Triage
from service.storage.models import ActionRow, TicketRow
from tests.conftest import API_KEY, make_settings

ALLOWED_LABELS = {
    "tenant", "connector", "level", "action", "outcome", "model_version", "device", "mode", "verdict",
    "queue", "status", "dependency", "task", "handler", "method", "code",
}  # fmt: skip
UNIT_SUFFIXES = ("_seconds", "_bytes", "_texts", "_tokens")


def _declared() -> list[MetricWrapperBase]:
    return [
        value
        for module in (api_metrics, worker_metrics)
        for value in vars(module).values()
        if isinstance(value, MetricWrapperBase)
    ]


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("metric", _declared(), ids=lambda m: m._name)
def test_metric_follows_naming_conventions(metric: MetricWrapperBase) -> None:
    assert re.fullmatch(r"triage_[a-z0-9_]+", metric._name)
    assert set(metric._labelnames) <= ALLOWED_LABELS, f"unbounded or unknown label in {metric._labelnames}"
    if metric._type == "histogram":
        assert metric._name.endswith(UNIT_SUFFIXES), "a histogram names its unit"
    if metric._type == "gauge":
        assert not metric._name.endswith("_total")
    assert metric._documentation, "every metric says what it counts"


def test_metric_names_are_unique_across_process_types() -> None:
    names = [m._name for m in _declared()]
    assert len(names) == len(set(names))


@pytest.fixture
def tenants_file(tmp_path: Path) -> Path:
    path = tmp_path / "tenants.yaml"
    tenants = [{"name": "default", "api_keys": [API_KEY]}, {"name": "acme", "api_keys": ["acme-key"]}]
    path.write_text(yaml.safe_dump({"tenants": tenants}))
    return path


def _client(sqlite_url: str, **overrides: object) -> TestClient:
    from service.main import create_app

    return TestClient(create_app(make_settings(sqlite_url, **overrides)))


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"X-API-Key": "acme-key"}, 401),  # another tenant's key: metrics name every tenant
        ({"X-API-Key": API_KEY}, 200),
        ({"Authorization": f"Bearer {API_KEY}"}, 200),
    ],
    ids=["no-key", "wrong-key", "other-tenant", "x-api-key", "bearer"],
)
def test_metrics_need_the_default_tenants_key(
    sqlite_url: str, tenants_file: Path, headers: dict[str, str], status: int
) -> None:
    with _client(sqlite_url, tenants_file=tenants_file) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert "triage_http_requests_total" in response.text


def test_public_metrics_need_no_key(sqlite_url: str) -> None:
    with _client(sqlite_url, metrics_public=True) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_intake_counts_outcomes_and_routes_by_template(sqlite_url: str, auth: dict[str, str]) -> None:
    deferred = _value("triage_tickets_received_total", tenant="default", connector="api", outcome="deferred")
    duplicate = _value(
        "triage_tickets_received_total", tenant="default", connector="api", outcome="duplicate"
    )
    body = {"external_id": "m-1", "messages": [{"body": "Where is my invoice?"}]}
    with _client(sqlite_url) as client:
        # No broker in unit tests: the ticket is stored and left to the sweep ("deferred").
        ticket_id = client.post("/v1/tickets", json=body, headers=auth).json()["ticket_id"]
        client.post("/v1/tickets", json=body, headers=auth)
        client.get(f"/v1/tickets/{ticket_id}", headers=auth)
        client.get("/no/such/path")
        text = client.get("/metrics", headers=auth).text
    assert _value("triage_tickets_received_total", tenant="default", connector="api", outcome="deferred") == (
        deferred + 1
    )
    assert _value(
        "triage_tickets_received_total", tenant="default", connector="api", outcome="duplicate"
    ) == (duplicate + 1)
    assert 'handler="/v1/tickets/{ticket_id}"' in text
    assert 'handler="unmatched"' in text
    assert ticket_id not in text, "a ticket id reached a label"


def test_webhook_series_exist_at_zero_for_every_vendor(sqlite_url: str, auth: dict[str, str]) -> None:
    from service.webhooks import VENDORS

    with _client(sqlite_url) as client:
        text = client.get("/metrics", headers=auth).text
    for vendor in VENDORS:
        assert f'triage_webhooks_received_total{{connector="{vendor}",outcome="bad_signature"}}' in text


def test_queue_collector_reads_waiting_tickets_and_outbox(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        ticket = TicketRow(
            tenant="default", source="api", external_id="q-1", status=TicketStatus.ACCEPTED, revision=1,
            triaged_revision=0, deliveries=0, created_at=now - timedelta(minutes=5),
            updated_at=now - timedelta(minutes=5),
        )  # fmt: skip
        session.add(ticket)
        session.flush()
        session.add(
            ActionRow(
                idempotency_key="k-1", ticket_id=ticket.id, tenant="default", revision=1, connector="webhook",
                kind="ticket.triaged", payload={}, status="dead", attempts=3,
            )
        )  # fmt: skip
    families = {f.name: f for f in api_metrics.QueueCollector(settings.redis_url, sessions).collect()}
    age = families["triage_queue_oldest_ticket_age_seconds"].samples[0].value
    assert 290 < age < 400
    outbox = {s.labels["status"]: s.value for s in families["triage_outbox_actions"].samples}
    assert outbox == {"pending": 0.0, "delivering": 0.0, "dead": 1.0}
    up = {s.labels["dependency"]: s.value for s in families["triage_dependency_up"].samples}
    assert up == {"redis": 0.0, "database": 1.0}  # unit settings point Redis at a closed port
    assert not families["triage_queue_depth"].samples


def _triage(frustration: str | None) -> Triage:
    score = FrustrationScore(probability=0.9, level=frustration) if frustration else None
    return Triage(
        ticket_id="t",
        revision=1,
        frustration=score,
        urgency=None,
        language="en",
        supported=score is not None,
        reason_codes=[],
        model_version="m-1",
    )


def test_observe_triaged_counts_levels_actions_and_time() -> None:
    triage = _triage("severe")
    decision = Decision(
        ticket_id="t",
        revision=1,
        policy_version="p",
        actions=[
            PlannedAction(kind=ActionKind.ESCALATED, reason="r", rule="x"),
            PlannedAction(kind=ActionKind.REPLY_DRAFTED, reason="r", rule="y", shadow=True),
        ],
    )
    labels = {"tenant": "unit", "model_version": "m-1"}
    before = _value("triage_time_to_triage_seconds_count", tenant="unit")
    worker_metrics.observe_triaged(
        triage, decision, tenant="unit", waiting_since=datetime.now(UTC) - timedelta(seconds=3)
    )
    assert _value("triage_time_to_triage_seconds_count", tenant="unit") == before + 1
    assert _value("triage_frustration_level_total", level="severe", **labels) >= 1
    assert _value("triage_urgency_level_total", level="unscored", **labels) >= 1
    assert _value("triage_actions_decided_total", action="ticket.escalated", mode="live", **labels) >= 1
    assert _value("triage_actions_decided_total", action="ticket.reply_drafted", mode="shadow", **labels) >= 1


@pytest.mark.parametrize(
    ("status", "outcome"), [("delivered", "delivered"), ("pending", "failed"), ("dead", "dead_lettered")]
)
def test_observe_writeback_maps_outbox_states(status: str, outcome: str) -> None:
    before = _value("triage_writebacks_total", connector="unit", action="ticket.triaged", outcome=outcome)
    retries = _value("triage_writeback_retries_total", connector="unit")
    limited = _value("triage_helpdesk_rate_limited_total", connector="unit")
    worker_metrics.observe_writeback(
        connector="unit", action="ticket.triaged", status=status, attempt=2, rate_limited=True
    )
    assert _value("triage_writebacks_total", connector="unit", action="ticket.triaged", outcome=outcome) == (
        before + 1
    )
    assert _value("triage_writeback_retries_total", connector="unit") == retries + 1
    assert _value("triage_helpdesk_rate_limited_total", connector="unit") == limited + 1


def test_model_load_records_time_device_and_failures() -> None:
    class Lazy:
        model_version = "lazy-1"
        device = "cpu"
        loaded = False

        def load(self) -> None:
            self.loaded = True

    model = worker_metrics.observe_model_load(Lazy, default_device="auto")
    assert model.loaded, "a lazy model is loaded inside the timed section"
    assert _value("triage_model_loaded", model_version="lazy-1", device="cpu") == 1.0
    failures = _value("triage_model_load_failures_total")

    def broken() -> Lazy:
        raise OSError("no weights")

    with pytest.raises(OSError):
        worker_metrics.observe_model_load(broken, default_device="auto")
    assert _value("triage_model_load_failures_total") == failures + 1


def test_worker_metrics_server_can_be_turned_off() -> None:
    worker_metrics.start_metrics_server(0)  # must neither bind nor raise


def test_worker_metrics_bind_loopback_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker's /metrics has no key and per-tenant labels: nothing beyond this host by default.
    from service.embedded import free_port

    servers = []
    real_start = worker_metrics.start_http_server

    def recording_start(*args: object, **kwargs: object) -> object:
        started = real_start(*args, **kwargs)  # type: ignore[arg-type]
        servers.append(started[0])
        return started

    monkeypatch.setattr(worker_metrics, "start_http_server", recording_start)
    monkeypatch.setattr(
        worker_metrics, "get_settings", lambda: make_settings("sqlite://", worker_metrics_port=free_port())
    )
    assert Settings.model_fields["worker_metrics_host"].default == "127.0.0.1"

    worker_metrics._worker_starting()
    worker_metrics.start_metrics_server(free_port())

    try:
        assert [server.server_address[0] for server in servers] == ["127.0.0.1", "127.0.0.1"]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_worker_collector_forgets_children_that_died_unannounced(tmp_path: Path) -> None:
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    stale = tmp_path / f"gauge_livemax_{child.pid}.db"
    stale.write_bytes(b"")
    list(worker_metrics._LiveProcessesCollector(tmp_path).collect())
    assert not stale.exists(), "a dead child's 'model loaded' gauge would stay 1"


SCRIPT = """
from fastapi.testclient import TestClient
from service.main import create_app
from tests.conftest import API_KEY, make_settings
import sys
with TestClient(create_app(make_settings(sys.argv[1]))) as client:
    headers = {"X-API-Key": API_KEY}
    client.post("/v1/tickets", json={"external_id": "mp-1", "messages": [{"body": "hi"}]}, headers=headers)
    print(client.get("/metrics", headers=headers).text)
"""


def test_api_sums_its_processes_in_multiprocess_mode(sqlite_url: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    directory = tmp_path / "api-metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, sqlite_url], env=env, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        'triage_tickets_received_total{connector="api",outcome="deferred",tenant="default"} 1.0'
        in result.stdout
    )
    assert "triage_queue_oldest_ticket_age_seconds" in result.stdout
    assert list(directory.glob("counter_*.db")), "samples were not written to the multiprocess directory"


@pytest.mark.integration
def test_queue_depth_counts_messages_celery_left_in_redis(
    tmp_path: Path, sqlite_url: str, sessions: sessionmaker[Session]
) -> None:
    from service import queue
    from service.embedded import start_redis

    redis_process, redis_url = start_redis(tmp_path / "redis")
    try:
        settings = make_settings(sqlite_url, redis_url=redis_url)
        # No worker consumes here: the messages stay in the lists Celery's Redis transport keeps.
        assert queue.send(settings, queue.TASK_CLASSIFY, [["t1"]])
        assert queue.send(settings, queue.TASK_CLASSIFY, [["t2"]])
        assert queue.send(settings, queue.TASK_DELIVER, ["a1"])
        families = {f.name: f for f in api_metrics.QueueCollector(redis_url, sessions).collect()}
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
    depth = {s.labels["queue"]: s.value for s in families["triage_queue_depth"].samples}
    assert depth == {"inference": 2.0, "actions": 1.0}

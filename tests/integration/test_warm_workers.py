"""Warm workers: each pool process loads the model before it takes a task, and readiness says when."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from service.cli import worker_command
from service.embedded import free_port
from service.storage.models import DecisionRow, TicketRow
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOAD_SECONDS = 6.0


def _readyz(port: int) -> tuple[int, dict[str, object]]:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def test_no_ticket_waits_for_the_model_once_the_worker_is_ready(make_stack):
    metrics_port = free_port()
    stack = make_stack(
        TRIAGE_CLASSIFIER="tests.fakes.classifier:SlowLoadingClassifier",
        TRIAGE_TEST_LOAD_SECONDS=str(LOAD_SECONDS),
        TRIAGE_WORKER_METRICS_PORT=str(metrics_port),
    )
    stack.start_api()
    stack._spawn("worker", worker_command("inference,actions", 2, hostname="warm@%h"))

    # While the processes load, readiness says so; it turns ready only when both hold the model.
    seen = wait_for(lambda: (r := _readyz(metrics_port))[0] and r, timeout=60)
    assert seen[0] == 503 and seen[1]["status"] in ("starting", "loading")
    _status, body = wait_for(lambda: (r := _readyz(metrics_port))[0] == 200 and r, timeout=120)
    assert body == {"status": "ready", "processes": 2, "warm": 2}
    metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    assert 'triage_worker_processes_warm{device="auto",model_version="fake-slow-load-1"} 2.0' in metrics

    # Two tickets at once: each process takes one, and neither pays the load.
    with stack.client() as client:
        ids = [
            client.post(
                "/v1/tickets", json={"external_id": f"warm-{i}", "messages": [{"body": "Where is my card?"}]}
            ).json()["ticket_id"]
            for i in range(2)
        ]
    for ticket_id in ids:
        done = wait_for(lambda t=ticket_id: (s := stack.ticket(t))["status"] == "triaged" and s, timeout=60)
        assert done["triage"]["model_version"] == "fake-slow-load-1"
    with stack.sessions() as session:
        rows = session.execute(
            select(TicketRow.created_at, DecisionRow.created_at).join(
                DecisionRow, DecisionRow.ticket_id == TicketRow.id
            )
        ).all()
    assert len(rows) == 2
    assert all((decided - created).total_seconds() < LOAD_SECONDS / 2 for created, decided in rows)


def test_an_actions_only_worker_needs_no_model(make_stack):
    metrics_port = free_port()
    stack = make_stack(
        TRIAGE_CLASSIFIER="tests.fakes.classifier:SlowLoadingClassifier",
        TRIAGE_TEST_LOAD_SECONDS="60",
        TRIAGE_WORKER_METRICS_PORT=str(metrics_port),
    )
    stack._spawn("worker", worker_command("actions", 1, hostname="actions@%h"))

    _status, body = wait_for(lambda: (r := _readyz(metrics_port))[0] == 200 and r, timeout=30)

    assert body == {"status": "ready", "processes": 1, "model": "not needed"}


def test_a_threads_pool_worker_loads_once_before_consuming_and_gathers_tickets(make_stack):
    metrics_port = free_port()
    stack = make_stack(
        TRIAGE_CLASSIFIER="tests.fakes.classifier:SlowLoadingClassifier",
        TRIAGE_TEST_LOAD_SECONDS="3",
        TRIAGE_WORKER_METRICS_PORT=str(metrics_port),
        TRIAGE_INFERENCE_BATCH_WAIT_MS="50",
    )
    stack.start_api()
    stack._spawn("worker", worker_command("inference,actions", 8, hostname="gpu@%h", pool="threads"))

    _status, body = wait_for(lambda: (r := _readyz(metrics_port))[0] == 200 and r, timeout=120)
    assert body == {"status": "ready", "processes": 1, "warm": 1}
    with stack.client() as client:
        ids = [
            client.post(
                "/v1/tickets", json={"external_id": f"gpu-{i}", "messages": [{"body": "Card blocked?"}]}
            ).json()["ticket_id"]
            for i in range(8)
        ]
    for ticket_id in ids:
        wait_for(lambda t=ticket_id: stack.ticket(t)["status"] == "triaged", timeout=60)

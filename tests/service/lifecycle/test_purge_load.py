"""A purge of 100,000 rows runs in batches while intake keeps answering; intake's p99 is printed."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.lifecycle.retention import RetentionReport, run_retention
from service.storage.db import session_factory
from service.storage.models import DecisionRow, MessageRow, TicketRow, TriageRow
from service.tenants import Tenant
from tests.conftest import API_KEY, make_settings

pytestmark = pytest.mark.slow

# Each synthetic ticket is five rows: the ticket, two messages, a triage result and a decision.
TICKETS = 20_000
ROWS = 5 * TICKETS
CHUNK = 2_000


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The shipped batch size and pause: the test measures what production would do.
    return make_settings(database_url)


def _insert_synthetic(sessions: sessionmaker[Session], *, at: datetime) -> None:
    """Insert the old tickets with core INSERTs, a chunk per transaction."""
    evidence = [{"text": "I have asked three times already", "weight": 0.9, "message_index": 1}]
    for start in range(0, TICKETS, CHUNK):
        ids = [uuid.uuid4().hex for _ in range(start, start + CHUNK)]
        with sessions.begin() as session:
            session.execute(
                insert(TicketRow),
                [
                    {
                        "id": ticket_id,
                        "tenant": "default",
                        "source": "api",
                        "external_id": f"L-{start + n}",
                        "subject": f"Order {start + n} never arrived",
                        "requester_id": f"cust-{start + n}",
                        "tags": [],
                        "status": "triaged",
                        "revision": 1,
                        "triaged_revision": 1,
                        "deliveries": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                    for n, ticket_id in enumerate(ids)
                ],
            )
            session.execute(
                insert(MessageRow),
                [
                    {
                        "ticket_id": ticket_id,
                        "position": position,
                        "author_role": "customer",
                        "body": f"Message {position} of ticket {ticket_id}: where is my parcel?",
                        "created_at": at,
                    }
                    for ticket_id in ids
                    for position in (0, 1)
                ],
            )
            session.execute(
                insert(TriageRow),
                [
                    {
                        "ticket_id": ticket_id,
                        "revision": 1,
                        "frustration_level": "moderate",
                        "urgency_level": "high",
                        "model_version": "synthetic-1",
                        "created_at": at,
                        "result": {
                            "ticket_id": ticket_id,
                            "revision": 1,
                            "model_version": "synthetic-1",
                            "frustration": {"probability": 0.6, "level": "moderate", "evidence": evidence},
                            "urgency": {
                                "distribution": {"high": 0.8},
                                "level": "high",
                                "probability": 0.8,
                                "evidence": evidence,
                            },
                        },
                    }
                    for ticket_id in ids
                ],
            )
            session.execute(
                insert(DecisionRow),
                [
                    {
                        "ticket_id": ticket_id,
                        "revision": 1,
                        "policy_version": "p1",
                        "created_at": at,
                        "decision": {
                            "ticket_id": ticket_id,
                            "revision": 1,
                            "actions": [],
                            "policy_version": "p1",
                        },
                        "drafts": [{"rank": 1, "text": "Sorry about your parcel", "backend": "retrieval"}],
                    }
                    for ticket_id in ids
                ],
            )


class IntakeLoad:
    """Post new tickets one after another from a thread, timing each answer, until stopped."""

    def __init__(self, client: TestClient):
        self.client = client
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            body = {"external_id": f"live-{n}", "messages": [{"body": f"New ticket {n}"}]}
            started = time.perf_counter()
            response = self.client.post("/v1/tickets", json=body, headers={"X-API-Key": API_KEY})
            self.latencies.append(time.perf_counter() - started)
            self.statuses.append(response.status_code)
            n += 1

    def __enter__(self) -> IntakeLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def client(settings: Settings, enqueued: list[object]) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_purge_of_100k_rows_runs_in_batches_while_intake_answers(
    settings: Settings, client: TestClient, database_url: str
) -> None:
    sessions = session_factory(settings.sqlalchemy_url)
    now = datetime.now(UTC)
    _insert_synthetic(sessions, at=now - timedelta(days=120))
    reports: list[RetentionReport] = []

    with IntakeLoad(client) as load:
        time.sleep(0.5)  # intake's latency before the purge starts, for comparison
        before = len(load.latencies)
        started = time.perf_counter()
        while not reports or not reports[-1].finished:
            reports.append(
                run_retention(sessions=sessions, tenants=[Tenant(name="default")], settings=settings, now=now)
            )
        seconds = time.perf_counter() - started
        during = load.latencies[before:]
        idle = load.latencies[:before]

    purged_rows = sum(sum(r.purged_rows.values()) for r in reports)
    batches = sum(r.batches for r in reports)
    p50 = statistics.median(during) * 1000
    p99 = statistics.quantiles(during, n=100)[98] * 1000
    backend = database_url.split(":", 1)[0]
    print(
        f"\n[{backend}] purged {purged_rows} rows of {TICKETS} tickets in {batches} batches "
        f"({settings.retention_batch_size} tickets each) over {seconds:.1f}s; intake during the purge: "
        f"{len(during)} requests, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(during) * 1000:.1f} ms "
        f"(before it: p50 {statistics.median(idle) * 1000:.1f} ms over {len(idle)} requests)"
    )
    assert purged_rows == ROWS
    assert batches >= TICKETS // settings.retention_batch_size
    assert set(load.statuses) == {202}, "intake refused or failed a ticket during the purge"
    assert len(during) >= 20, "intake barely got a word in"
    # A request waits for at most one batch's transaction: well under a second even on a busy machine.
    assert p99 < 1000
    with sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(MessageRow).where(MessageRow.body.like("Message %"))
            )
            == 0
        )
        assert session.scalar(select(func.count()).where(TicketRow.purged_at.is_not(None))) == TICKETS

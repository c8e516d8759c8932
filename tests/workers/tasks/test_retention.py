"""`triage.retention` runs the purge and records it: rows per tenant, the outcome, when it last succeeded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.storage.models import TicketRow
from service.tenants import Tenant, TenantRegistry
from tests.workers.helpers import add_ticket


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def task(monkeypatch: pytest.MonkeyPatch, settings: Settings, sessions: sessionmaker[Session]):
    from workers.tasks import retention

    registry = TenantRegistry([Tenant(name="default"), Tenant(name="acme")])
    monkeypatch.setattr(retention, "get_settings", lambda: settings)
    monkeypatch.setattr(retention, "get_tenants", lambda: registry)
    monkeypatch.setattr(retention.resources, "sessions", lambda: sessions)
    return retention.retention


def test_a_run_counts_rows_per_tenant_and_marks_its_success(task, sessions: sessionmaker[Session]) -> None:
    ticket = add_ticket(sessions, "old text")
    with sessions.begin() as session:
        old = datetime.now(UTC) - timedelta(days=91)
        session.execute(update(TicketRow).values(updated_at=old, triaged_revision=1))
    purged = _value("triage_retention_purged_rows_total", tenant="default")
    acme = _value("triage_retention_purged_rows_total", tenant="acme")
    complete = _value("triage_retention_runs_total", outcome="complete")
    started = datetime.now(UTC).timestamp()

    result = task.run()

    assert result["purged_tickets"] == 1 and ticket
    # The ticket row and its one message.
    assert _value("triage_retention_purged_rows_total", tenant="default") == purged + 2
    assert _value("triage_retention_purged_rows_total", tenant="acme") == acme  # its series exists, at 0
    assert REGISTRY.get_sample_value("triage_retention_purged_rows_total", {"tenant": "acme"}) is not None
    assert _value("triage_retention_runs_total", outcome="complete") == complete + 1
    assert _value("triage_retention_last_success_timestamp_seconds") >= started


def test_a_failing_run_is_counted_and_leaves_the_last_success_alone(
    task, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.tasks import retention

    def broken(**_: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(retention, "run_retention", broken)
    failed = _value("triage_retention_runs_total", outcome="failed")
    last = _value("triage_retention_last_success_timestamp_seconds")

    with pytest.raises(RuntimeError):
        task.run()

    assert _value("triage_retention_runs_total", outcome="failed") == failed + 1
    assert _value("triage_retention_last_success_timestamp_seconds") == last


def test_beat_schedules_the_retention_task_on_the_actions_queue() -> None:
    from service import queue
    from workers.celery_app import app

    entry = app.conf.beat_schedule["retention"]
    assert entry["task"] == queue.TASK_RETENTION
    assert app.conf.task_routes[queue.TASK_RETENTION] == {"queue": queue.QUEUE_ACTIONS}

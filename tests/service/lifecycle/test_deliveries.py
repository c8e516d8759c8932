"""Delivery ids outlive every sender's retries: a replay inside the window is refused, after it they go."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import DEFAULT_DELIVERY_RETENTION_HOURS, LONGEST_SENDER_RETRY_HOURS, Settings
from service.lifecycle.retention import run_retention
from service.lifecycle.windows import SENDER_WINDOWS, longest_window
from service.storage.db import session_factory
from service.storage.models import InboundDeliveryRow, TicketRow
from service.tenants import TenantsFileError, load_tenants
from service.webhooks import VENDORS
from tests.conftest import make_settings
from tests.service.webhooks.conftest import tenants_document
from tests.service.webhooks.signing import SECRETS, signed_headers

BODY = {
    "type": "ticket.created",
    "data": {"external_id": "SW-1", "requester_id": "c-1", "messages": [{"body": "Deliveries fail"}]},
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    return make_settings(database_url, tenants_file=path, retention_batch_pause_seconds=0)


@pytest.fixture
def client(settings: Settings, enqueued: list[object]) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def deliver(client: TestClient, body: dict[str, object], msg_id: str = "msg_replayed") -> dict[str, object]:
    raw = json.dumps(body).encode()
    response = client.post(
        "/v1/webhooks/standard/acme", content=raw, headers=signed_headers("standard", raw, delivery_id=msg_id)
    )
    return {**response.json(), "code": response.status_code}


def received(sessions: sessionmaker[Session], at: datetime) -> None:
    with sessions.begin() as session:
        session.execute(update(InboundDeliveryRow).values(received_at=at))


def test_a_replay_inside_the_window_is_refused_and_the_id_goes_after_it(
    client: TestClient, settings: Settings
) -> None:
    sessions = session_factory(settings.sqlalchemy_url)
    now = datetime.now(UTC)
    window = timedelta(hours=settings.delivery_retention_hours)
    tenants = load_tenants(settings)
    first = deliver(client, BODY)
    with sessions() as session:
        ticket_id = session.scalars(select(TicketRow.id)).one()
        linked = session.scalars(select(InboundDeliveryRow.ticket_id)).one()
    assert first["code"] == 202 and linked == ticket_id

    # Just inside the window: the retention run keeps the id, and the sender's retry is a duplicate.
    received(sessions, now - window + timedelta(hours=1))
    kept = run_retention(sessions=sessions, tenants=tenants, settings=settings, now=now)
    retry = deliver(client, BODY)
    forged = deliver(client, {**BODY, "data": {**BODY["data"], "requester_id": "c-2"}})

    assert kept.delivery_ids == {}
    assert (retry["code"], retry["duplicate"]) == (202, True)
    assert forged["code"] == 409

    # Past the window the id is deleted.
    received(sessions, now - window - timedelta(hours=1))
    purged = run_retention(sessions=sessions, tenants=tenants, settings=settings, now=now)
    with sessions() as session:
        assert session.scalars(select(InboundDeliveryRow)).all() == []
    assert purged.delivery_ids == {"acme": 1}


def test_the_window_outlives_every_documented_sender() -> None:
    # Every sender we accept has its window written down, with its source.
    assert {w.sender for w in SENDER_WINDOWS} == set(VENDORS)
    assert all(w.source and w.how for w in SENDER_WINDOWS)
    assert longest_window() == timedelta(hours=LONGEST_SENDER_RETRY_HOURS)
    # About twice the longest window, rounded up to a week: a margin for slow or re-enabled senders.
    assert DEFAULT_DELIVERY_RETENTION_HOURS >= 2 * LONGEST_SENDER_RETRY_HOURS
    with pytest.raises(ValidationError, match="longest sender retry window"):
        make_settings("sqlite://", delivery_retention_hours=LONGEST_SENDER_RETRY_HOURS - 1)


def test_retention_is_read_from_the_tenants_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        yaml.safe_dump({"tenants": [{"name": "acme", "retention": {"days": 30, "deleted_days": 2}}]})
    )
    settings = make_settings("sqlite://", tenants_file=path)

    registry = load_tenants(settings)
    acme, default = registry.get("acme"), registry.get("default")

    assert acme is not None and default is not None
    assert acme.retention.resolved(settings).model_dump() == {
        "days": 30,
        "closed_days": 30,
        "deleted_days": 2,
    }
    assert default.retention.resolved(settings).model_dump() == {
        "days": 90,
        "closed_days": 30,
        "deleted_days": 0,
    }
    for days in (0, 10**9):  # nothing kept at all, or a window that would overflow the date arithmetic
        path.write_text(yaml.safe_dump({"tenants": [{"name": "acme", "retention": {"days": days}}]}))
        with pytest.raises(TenantsFileError, match=r"tenants\[0\]\.retention\.days"):
            load_tenants(settings)

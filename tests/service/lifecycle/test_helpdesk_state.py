"""Each helpdesk's close, delete and reopen events set the stored ticket's state, which retention reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.storage.db import session_factory
from service.storage.models import InboundDeliveryRow, TicketRow
from tests.conftest import make_settings
from tests.service.webhooks.conftest import tenants_document
from tests.service.webhooks.signing import NEW_TICKET, SECRETS, load, signed_headers

# vendor, state payload, Help Scout event header, the state it records
CASES = [
    ("zendesk", "zendesk/status_changed.json", None, "closed"),
    ("zendesk", "zendesk/soft_deleted.json", None, "deleted"),
    ("freshdesk", "freshdesk/ticket_closed.json", None, "closed"),
    ("zammad", "zammad/ticket_closed.json", None, "closed"),
    ("helpscout", "helpscout/convo_status.json", "convo.status", "closed"),
    ("helpscout", "helpscout/convo_deleted.json", "convo.deleted", "deleted"),
    ("intercom", "intercom/conversation_admin_closed.json", None, "closed"),
    ("standard", "standard/ticket_closed.json", None, "closed"),
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    return make_settings(database_url, tenants_file=path)


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.sqlalchemy_url)


@pytest.fixture
def client(settings: Settings, enqueued: list[object]) -> Iterator[TestClient]:
    from service.main import create_app

    with TestClient(create_app(settings)) as test_client:
        yield test_client


def post(
    client: TestClient, vendor: str, body: bytes, event: str | None = None, msg_id: str | None = None
) -> httpx.Response:
    headers = signed_headers(vendor, body, event=event, delivery_id=msg_id)
    return client.post(f"/v1/webhooks/{vendor}/acme", content=body, headers=headers)


def state_of(sessions: sessionmaker[Session]) -> tuple[str | None, bool]:
    with sessions() as session:
        row = session.scalars(select(TicketRow)).one()
        return row.helpdesk_state, row.helpdesk_state_at is not None


@pytest.mark.parametrize(("vendor", "fixture", "event", "state"), CASES, ids=lambda c: str(c))
def test_a_close_or_delete_event_sets_the_tickets_state(
    client: TestClient,
    sessions: sessionmaker[Session],
    vendor: str,
    fixture: str,
    event: str | None,
    state: str,
) -> None:
    created = post(client, vendor, load(NEW_TICKET[vendor]), msg_id="msg-created")
    assert created.status_code == 202, created.text

    changed = post(client, vendor, load(fixture), event=event, msg_id="msg-state")
    again = post(client, vendor, load(fixture), event=event, msg_id="msg-state")

    assert changed.status_code == 202, changed.text
    assert changed.json()["status"] == "accepted"
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert state_of(sessions) == (state, True)
    with sessions() as session:
        # The state delivery is linked to the ticket, so erasing the ticket erases it too.
        linked = session.scalars(select(InboundDeliveryRow.ticket_id)).all()
        assert len(linked) == 2 and None not in linked


@pytest.mark.parametrize(("vendor", "fixture", "event", "state"), CASES, ids=lambda c: str(c))
def test_a_state_event_for_a_ticket_never_stored_is_ignored(
    client: TestClient,
    sessions: sessionmaker[Session],
    vendor: str,
    fixture: str,
    event: str | None,
    state: str,
) -> None:
    response = post(client, vendor, load(fixture), event=event)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ignored",
        "duplicate": False,
        "reason": "ticket not stored here",
        "tickets": [],
    }
    with sessions() as session:
        assert session.scalars(select(TicketRow)).all() == []


def test_a_reopen_clears_the_state_and_so_does_a_customer_reply(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    ticket = json.loads(load("standard/ticket_created.json"))
    closed = json.loads(load("standard/ticket_closed.json"))
    assert post(client, "standard", json.dumps(ticket).encode()).status_code == 202
    post(client, "standard", json.dumps(closed).encode())
    assert state_of(sessions)[0] == "closed"

    post(client, "standard", json.dumps({**closed, "type": "ticket.reopened"}).encode())
    reopened = state_of(sessions)[0]
    post(client, "standard", json.dumps(closed).encode())
    reply = {**ticket, "type": "ticket.replied"}
    reply["data"] = {**ticket["data"], "messages": [{"body": "Any news? It is still broken."}]}
    post(client, "standard", json.dumps(reply).encode())

    assert reopened is None
    assert state_of(sessions)[0] is None, "a customer's reply reopens a closed ticket"


@pytest.mark.parametrize(
    ("vendor", "body", "event"),
    [
        (
            "zendesk",
            {"type": "zen:event-type:ticket.status_changed", "id": "e-1", "detail": {"id": "abc"}},
            None,
        ),
        ("standard", {"type": "ticket.closed", "data": {"external_id": "../etc"}}, None),
        ("helpscout", {"status": "closed"}, "convo.status"),
        ("freshdesk", {"event": "ticket_deleted", "ticket": {}}, None),
    ],
    ids=["zendesk-id", "standard-id", "helpscout-no-id", "freshdesk-no-id"],
)
def test_a_state_event_that_names_no_valid_ticket_is_refused(
    client: TestClient, vendor: str, body: dict[str, object], event: str | None
) -> None:
    response = post(client, vendor, json.dumps(body).encode(), event=event)

    assert response.status_code == 422, response.text

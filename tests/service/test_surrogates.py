"""A lone surrogate (`"\\ud800"` in the JSON) never makes a 500, on SQLite or PostgreSQL.

Python's JSON parser keeps half of a UTF-16 pair as a string no UTF-8 encoder accepts: FastAPI's 422
echoing it back, a webhook's "ignored" reason naming it, and a stored message holding it were 500s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.storage.db import session_factory
from service.storage.models import MessageRow
from tests.conftest import API_KEY, make_settings
from tests.service.webhooks.conftest import tenants_document
from tests.service.webhooks.signing import NEW_TICKET, SECRETS, VENDORS, load, signed_headers

HALF = "\ud800"
JSON = {"X-API-Key": API_KEY, "Content-Type": "application/json"}

# Where each vendor's documented payload carries the customer's message.
MESSAGE_PATH: dict[str, tuple[Any, ...]] = {
    "zendesk": ("detail", "description"),
    "freshdesk": ("ticket", "description"),
    "zammad": ("article", "body"),
    "helpscout": ("_embedded", "threads", 0, "body"),
    "intercom": ("data", "item", "source", "body"),
    "standard": ("data", "messages", 0, "body"),
}


@pytest.fixture
def any_db_client(database_url: str, tmp_path: Path, enqueued: list[Any]) -> Iterator[TestClient]:
    from service.main import create_app

    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    app = create_app(make_settings(database_url, tenants_file=tenants))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def with_value(vendor: str, path: tuple[Any, ...], value: Any) -> bytes:
    """Return the vendor's new-ticket payload with one value replaced, the surrogate as a JSON escape."""
    payload = json.loads(load(NEW_TICKET[vendor]))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(payload).encode()  # ensure_ascii: HALF goes out as the escape `\ud800`


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/tickets", {"external_id": "s-1", "messages": [{"body": f"Hi {HALF}"}]}),
        ("/v1/tickets/0/feedback", {"agent": f"jane{HALF}", "urgency": "low"}),
    ],
)
def test_the_api_refuses_a_lone_surrogate_with_a_readable_422(any_db_client, path, body) -> None:
    response = any_db_client.post(path, content=json.dumps(body).encode(), headers=JSON)

    assert response.status_code == 422
    assert "\ufffd" in json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_webhook_message_with_a_lone_surrogate_is_stored_with_a_replacement(
    vendor, any_db_client, database_url
) -> None:
    body = with_value(vendor, MESSAGE_PATH[vendor], f"Locked out {HALF}since Monday.")

    response = any_db_client.post(
        f"/v1/webhooks/{vendor}/acme", content=body, headers=signed_headers(vendor, body)
    )

    assert response.status_code == 202, response.text
    with session_factory(database_url)() as session:
        [stored] = session.scalars(select(MessageRow.body)).all()
    assert stored == "Locked out \ufffdsince Monday."


@pytest.mark.parametrize("vendor", ["standard", "zendesk"])
def test_an_ignored_event_type_with_a_lone_surrogate_is_named_readably(vendor, any_db_client) -> None:
    body = with_value(vendor, ("type",), f"ticket.{HALF}")

    response = any_db_client.post(
        f"/v1/webhooks/{vendor}/acme", content=body, headers=signed_headers(vendor, body)
    )

    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "event type ticket.\ufffd is not triaged"

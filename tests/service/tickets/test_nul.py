"""NUL characters are stripped at intake, with the same result on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import API_KEY, make_settings

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture
def any_db_client(database_url: str):  # type: ignore[no-untyped-def]
    from service.main import create_app

    with TestClient(create_app(make_settings(database_url))) as client:
        yield client


def test_nul_in_every_text_field_is_stripped_on_both_databases(any_db_client, enqueued) -> None:
    body = {
        "external_id": "nul-1",
        "subject": "Bill\x00ing",
        "requester_id": "cust\x00-1",
        "tags": ["vi\x00p"],
        "priority": "hi\x00gh",
        "group": "Tier\x001",
        "brand": "Ac\x00me",
        "language": "e\x00n",
        "messages": [{"body": "Charged\x00 twice", "external_id": "m\x00-1"}],
    }

    response = any_db_client.post("/v1/tickets", json=body, headers=AUTH)

    assert response.status_code == 202, response.text
    stored = any_db_client.get(f"/v1/tickets/{response.json()['ticket_id']}", headers=AUTH).json()
    assert stored["subject"] == "Billing"
    assert stored["messages"][0]["body"] == "Charged twice"


def test_nul_in_the_external_id_is_refused(any_db_client, enqueued) -> None:
    response = any_db_client.post(
        "/v1/tickets", json={"external_id": "nul\x00", "messages": [{"body": "x"}]}, headers=AUTH
    )
    assert response.status_code == 422
    assert enqueued == []

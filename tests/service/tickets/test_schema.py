"""The ticket body's OpenAPI schema states the configured limits that `POST /v1/tickets` enforces."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from tests.conftest import API_KEY, make_settings


def ticket(messages: int, chars: int) -> dict[str, object]:
    return {"external_id": f"limits-{messages}-{chars}", "messages": [{"body": "x" * chars}] * messages}


@pytest.mark.parametrize(
    "body",
    [ticket(3, 10), ticket(4, 10), ticket(1, 11)],
    ids=["at both limits", "one message more", "longer"],
)
def test_a_body_is_refused_exactly_when_the_schema_says_it_is_invalid(sqlite_url, enqueued, body) -> None:
    # Found by schemathesis: the schema said 1,000 messages, and 200 (the default setting) was the limit.
    from service.main import create_app

    with TestClient(create_app(make_settings(sqlite_url, max_messages=3, max_message_chars=10))) as client:
        spec = client.get("/openapi.json").json()
        response = client.post("/v1/tickets", json=body, headers={"X-API-Key": API_KEY})

    validator = Draft202012Validator({**spec, "$ref": "#/components/schemas/TicketIn"})
    assert (response.status_code != 422) == validator.is_valid(body), response.text

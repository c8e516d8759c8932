"""The ticket body's OpenAPI schema and `POST /v1/tickets` agree on what is valid."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from tests.conftest import API_KEY, make_settings


def ticket(messages: int, chars: int, external_id: str = "", **message: str) -> dict[str, object]:
    external_id = external_id or f"limits-{messages}-{chars}"
    return {"external_id": external_id, "messages": [{"body": "x" * chars, **message}] * messages}


@pytest.mark.parametrize(
    "body",
    [
        # Found by schemathesis: the schema said 1,000 messages; 200 (the default setting) was the limit.
        pytest.param(ticket(3, 10), id="at both limits"),
        pytest.param(ticket(4, 10), id="one message more"),
        pytest.param(ticket(1, 11), id="longer"),
        # The id pattern let `..` through, which the code refuses.
        pytest.param(ticket(1, 1, ".a.b.:_-"), id="single dots"),
        pytest.param(ticket(1, 1, "a..b"), id="double dot"),
        pytest.param(ticket(1, 1, ".."), id="dots"),
        pytest.param(ticket(1, 1, "a/b"), id="slash"),
        # Found by schemathesis: a valid date-time the code refused, as it leaves the calendar in UTC.
        pytest.param(ticket(1, 1, created_at="0001-01-01T00:00:00+00:08"), id="year 1 east of UTC"),
        pytest.param(ticket(1, 1, created_at="0001-06-01T00:00:00Z"), id="year 1"),
        pytest.param(ticket(1, 1, created_at="9999-12-31T23:59:59-23:59"), id="year 9999 west of UTC"),
        pytest.param(ticket(1, 1, created_at="0002-01-01T00:00:00+14:00"), id="year 2"),
        pytest.param(ticket(1, 1, created_at="2026-11-26T12:00:00"), id="no zone"),
    ],
)
def test_a_body_is_refused_exactly_when_the_schema_says_it_is_invalid(sqlite_url, enqueued, body) -> None:
    from service.main import create_app

    with TestClient(create_app(make_settings(sqlite_url, max_messages=3, max_message_chars=10))) as client:
        spec = client.get("/openapi.json").json()
        response = client.post("/v1/tickets", json=body, headers={"X-API-Key": API_KEY})

    validator = Draft202012Validator({**spec, "$ref": "#/components/schemas/TicketIn"})
    assert (response.status_code != 422) == validator.is_valid(body), response.text

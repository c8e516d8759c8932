"""The feedback body's OpenAPI schema and the code agree on what is valid."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tests.service.assist.scenario import build_world

AGENT = {"agent": "jane@acme.test"}


@pytest.mark.parametrize(
    "body",
    [
        AGENT,
        {**AGENT, "revision": 1, "comment": "hm"},
        {**AGENT, "draft": None, "frustration": None, "urgency": None},
        {**AGENT, "urgency": "low"},
        {**AGENT, "frustration": "mild", "draft": None},
        {**AGENT, "draft": {"rank": 1, "verdict": "accepted"}},
        {**AGENT, "draft": {"rank": 1, "verdict": "edited", "text": " "}},
        {**AGENT, "draft": {"rank": 1, "verdict": "edited", "text": "Hi"}},
        {"agent": "\x00", "urgency": "low"},
    ],
)
def test_a_body_is_refused_exactly_when_the_schema_says_it_is_invalid(client, auth, sessions, body) -> None:
    spec = client.get("/openapi.json").json()
    validator = Draft202012Validator({**spec, "$ref": "#/components/schemas/FeedbackIn"})
    world = build_world(sessions)

    response = client.post(f"/v1/tickets/{world.ticket_id}/feedback", json=body, headers=auth)

    assert (response.status_code != 422) == validator.is_valid(body), response.text

"""Each vendor's webhook body schema and normalising agree: a signed body is refused (422) exactly when
its schema says it is invalid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.service.webhooks.signing import NEW_TICKET, load, signed_headers


def changed(vendor: str, path: tuple[Any, ...], value: Any, fixture: str = "") -> dict[str, Any]:
    """Return a documented payload with the value at `path` set (or removed, for `...`)."""
    payload = json.loads(load(fixture or NEW_TICKET[vendor]))
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload  # type: ignore[no-any-return]


CASES = [
    # Found by schemathesis: a triaged event without its message was valid by the schema, and 422.
    ("freshdesk", changed("freshdesk", ("ticket", "description"), ...)),
    ("freshdesk", changed("freshdesk", ("ticket", "description"), "")),
    ("freshdesk", changed("freshdesk", ("ticket", "description"), None)),
    (
        "freshdesk",
        changed("freshdesk", ("ticket", "latest_public_comment"), "", "freshdesk/customer_reply.json"),
    ),
    ("freshdesk", changed("freshdesk", ("event",), "ticket_deleted")),
    ("intercom", changed("intercom", ("data", "item", "source"), None)),
    ("intercom", changed("intercom", ("data", "item", "source"), ...)),
    (
        "intercom",
        changed(
            "intercom",
            ("data", "item", "conversation_parts", "conversation_parts"),
            [],
            "intercom/conversation_user_replied.json",
        ),
    ),
    ("helpscout", changed("helpscout", ("_embedded", "threads", 0, "body"), "")),
    ("helpscout", changed("helpscout", ("_embedded", "threads", 0, "type"), "note")),
    # Found by schemathesis: one body shape for every Help Scout event; without threads it is ignored.
    ("helpscout", changed("helpscout", ("_embedded",), ...)),
    ("helpscout", changed("helpscout", ("_embedded",), None)),
    ("helpscout", {"id": "1", "status": 9007199254740990}),
    ("helpscout", changed("helpscout", ("_embedded", "threads"), "one")),
    ("helpscout", changed("helpscout", ("status",), {})),
    ("standard", changed("standard", ("type",), {})),
    ("freshdesk", changed("freshdesk", ("event",), {})),
    # The recorded Zammad and Help Scout payloads send ids as numbers, which the schema refused.
    ("zammad", changed("zammad", ("ticket", "id"), 0)),
    ("zammad", changed("zammad", ("ticket", "id"), -7)),
    ("helpscout", changed("helpscout", ("id",), 1.5)),
    ("zendesk", changed("zendesk", ("detail", "id"), 35436)),
    # Found by schemathesis: 53941.0 is an integer to JSON schema, and was refused.
    ("zammad", changed("zammad", ("ticket", "id"), 53941.0)),
    ("zammad", changed("zammad", ("ticket", "id"), 1.5)),
    *[(vendor, json.loads(load(fixture))) for vendor, fixture in NEW_TICKET.items()],
]


@pytest.mark.parametrize(("vendor", "payload"), CASES)
def test_a_signed_body_is_refused_exactly_when_its_schema_says_it_is_invalid(
    vendor, payload, webhook_client, enqueued
) -> None:
    spec = webhook_client.get("/openapi.json").json()
    body_schema = spec["paths"][f"/v1/webhooks/{vendor}/{{tenant}}"]["post"]["requestBody"]["content"]
    validator = Draft202012Validator({**spec, **body_schema["application/json"]["schema"]})
    body = json.dumps(payload).encode()

    response = webhook_client.post(
        f"/v1/webhooks/{vendor}/acme", content=body, headers=signed_headers(vendor, body)
    )

    assert (response.status_code != 422) == validator.is_valid(payload), response.text

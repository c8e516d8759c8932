"""What schemathesis found once the ticket-state events and the tightened body schemas met.

One mutation of a documented payload per test, signed as the vendor signs it: the status is the one
the published schema and the code agree on, and nothing is stored or queued.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.webhooks.base import html_to_text
from tests.service.hostile import stored_rows
from tests.service.webhooks.signing import NEW_TICKET, load, signed_headers

REPLY = "convo.customer.reply.created"


def post(client: TestClient, vendor: str, payload: Any, event: str | None = None):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    return client.post(
        f"/v1/webhooks/{vendor}/acme", content=body, headers=signed_headers(vendor, body, event=event)
    )


def documented(vendor: str, fixture: str = "") -> dict[str, Any]:
    return json.loads(load(fixture or NEW_TICKET[vendor]))  # type: ignore[no-any-return]


def assert_nothing_kept(response, status: int, settings: Settings, enqueued: list[Any]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert stored_rows(settings) == 0
    assert enqueued == []


# The event type picks the body's shape; one that is not a string was looked up in a dict: a 500.


@pytest.mark.parametrize("value", [{}, [], None, True])
def test_standard_event_type_that_is_not_a_string_is_422_naming_type(
    value, webhook_client, webhook_settings, enqueued
) -> None:
    response = post(webhook_client, "standard", documented("standard") | {"type": value})

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("type")


def test_standard_event_without_a_type_is_422_naming_type(webhook_client, webhook_settings, enqueued) -> None:
    payload = documented("standard")
    del payload["type"]

    response = post(webhook_client, "standard", payload)

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("type")


@pytest.mark.parametrize("value", [{}, []])
def test_freshdesk_event_that_is_not_a_string_is_422_naming_event(
    value, webhook_client, webhook_settings, enqueued
) -> None:
    # Schemathesis: `{"event": {}, "ticket": {"id": "1"}}` with a valid shared secret was a 500.
    response = post(webhook_client, "freshdesk", {"event": value, "ticket": {"id": "1"}})

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("event")


@pytest.mark.parametrize("value", [{}, []])
def test_intercom_topic_that_is_not_a_string_is_422_naming_topic(
    value, webhook_client, webhook_settings, enqueued
) -> None:
    response = post(webhook_client, "intercom", documented("intercom") | {"topic": value})

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("topic")


# Help Scout names the event in a header, which the body schema cannot refer to: every event has one
# body shape, and a triaged event whose conversation has no customer message is accepted and ignored.


def test_helpscout_reply_event_with_a_status_event_body_is_200_ignored(
    webhook_client, webhook_settings, enqueued
) -> None:
    # Schemathesis: valid by the published schema, and refused with "_embedded: Field required".
    response = post(webhook_client, "helpscout", {"id": "1", "status": 9007199254740990}, event=REPLY)

    assert_nothing_kept(response, 200, webhook_settings, enqueued)
    assert response.json()["status"] == "ignored"


def test_helpscout_created_event_without_threads_is_200_ignored(
    webhook_client, webhook_settings, enqueued
) -> None:
    payload = documented("helpscout")
    del payload["_embedded"]

    response = post(webhook_client, "helpscout", payload)

    assert_nothing_kept(response, 200, webhook_settings, enqueued)


def test_helpscout_customer_thread_whose_html_has_no_text_is_200_ignored(
    webhook_client, webhook_settings, enqueued
) -> None:
    payload = documented("helpscout")
    payload["_embedded"]["threads"][0]["body"] = "<p> </p>"

    response = post(webhook_client, "helpscout", payload)

    assert_nothing_kept(response, 200, webhook_settings, enqueued)


def test_helpscout_threads_that_are_not_a_list_is_422(webhook_client, webhook_settings, enqueued) -> None:
    payload = documented("helpscout")
    payload["_embedded"]["threads"] = "one"

    response = post(webhook_client, "helpscout", payload, event=REPLY)

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("_embedded.threads")


def test_helpscout_status_event_with_a_status_that_is_not_text_is_422(
    webhook_client, webhook_settings, enqueued
) -> None:
    payload = documented("helpscout", "helpscout/convo_status.json") | {"status": {}}

    response = post(webhook_client, "helpscout", payload, event="convo.status")

    assert_nothing_kept(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("status")


# html.parser raises AssertionError on some malformed markup: a signed body was a 500.


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<![x[", "Export fails\n<![x[ today & now"),
        ("<![foo[ bar ]]>", "Export fails\n\n today & now"),
        ("<![0", "Export fails\n<![0 today & now"),
        ("<script>x()</script><![x[", "Export fails\n<![x[ today & now"),
    ],
)
def test_html_that_html_parser_cannot_read_still_gives_its_text(markup, text) -> None:
    assert html_to_text(f"<p>Export fails</p>{markup} today &amp; now") == text


@pytest.mark.parametrize("vendor", ["helpscout", "freshdesk"])
def test_a_customer_message_html_parser_cannot_read_is_accepted(vendor, webhook_client, enqueued) -> None:
    payload = documented(vendor)
    if vendor == "helpscout":
        payload["_embedded"]["threads"][0]["body"] = "<p>Export fails</p><![x["
    else:
        payload["ticket"]["description"] = "<div>Export fails</div><![x["

    response = post(webhook_client, vendor, payload)

    assert response.status_code == 202, response.text
    assert len(enqueued) == 1

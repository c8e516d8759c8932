"""Every vendor webhook under hostile input: one mutation per test, refused, nothing stored or queued."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from tests.service.hostile import stored_rows
from tests.service.webhooks.signing import NEW_TICKET, SIGNATURE_HEADER, VENDORS, load, signed_headers

HOSTILE_IDS = ["1/../../users/me", "..", "%2e%2e", "1?y=", "1#x", "1 2", "\u0661", "", "1" * 129]

# Where each vendor's documented payload carries the helpdesk's ticket id.
TICKET_ID_PATH: dict[str, tuple[Any, ...]] = {
    "zendesk": ("detail", "id"),
    "freshdesk": ("ticket", "id"),
    "zammad": ("ticket", "id"),
    "helpscout": ("id",),
    "intercom": ("data", "item", "id"),
    "standard": ("data", "external_id"),
}


def post(client: TestClient, vendor: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/webhooks/{vendor}/acme", content=body, headers=headers)


def mutated(vendor: str, path: tuple[Any, ...], value: Any) -> bytes:
    payload = json.loads(load(NEW_TICKET[vendor]))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(payload).encode()


def assert_refused(response, status: int, settings: Settings, enqueued: list[Any]) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert stored_rows(settings) == 0
    assert enqueued == []


@pytest.mark.parametrize("external_id", HOSTILE_IDS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_signed_payload_with_a_hostile_ticket_id_is_422_naming_it(
    vendor, external_id, webhook_client, webhook_settings, enqueued
) -> None:
    body = mutated(vendor, TICKET_ID_PATH[vendor], external_id)

    response = post(webhook_client, vendor, body, signed_headers(vendor, body))

    assert_refused(response, 422, webhook_settings, enqueued)
    assert ".".join(map(str, TICKET_ID_PATH[vendor])) in response.json()["detail"]


def test_zendesk_trigger_with_tags_true_is_422_naming_tags(
    webhook_client, webhook_settings, enqueued
) -> None:
    payload = json.loads(load("zendesk/trigger.json")) | {"tags": True}
    body = json.dumps(payload).encode()

    response = post(webhook_client, "zendesk", body, signed_headers("zendesk", body))

    assert_refused(response, 422, webhook_settings, enqueued)
    assert response.json()["detail"].startswith("tags")


@pytest.mark.parametrize(
    ("vendor", "path", "value"),
    [
        ("zendesk", ("detail", "tags"), "billing"),
        ("zendesk", ("detail", "description"), {"html": "x"}),
        ("freshdesk", ("ticket",), ["not", "an", "object"]),
        ("zammad", ("article", "internal"), "maybe"),
        ("helpscout", ("_embedded", "threads"), []),
        ("intercom", ("data", "item", "source"), 7),
        ("standard", ("data", "messages"), "hello"),
    ],
)
def test_signed_payload_with_a_field_of_the_wrong_type_is_422(
    vendor, path, value, webhook_client, webhook_settings, enqueued
) -> None:
    body = mutated(vendor, path, value)

    response = post(webhook_client, vendor, body, signed_headers(vendor, body))

    assert_refused(response, 422, webhook_settings, enqueued)


@pytest.mark.parametrize("vendor", VENDORS)
def test_signed_json_nested_ten_thousand_deep_is_422(
    vendor, webhook_client, webhook_settings, enqueued
) -> None:
    body = b"[" * 10_000 + b"]" * 10_000

    response = post(webhook_client, vendor, body, signed_headers(vendor, body))

    assert_refused(response, 422, webhook_settings, enqueued)


@pytest.mark.parametrize("vendor", VENDORS)
def test_non_ascii_byte_in_the_signature_header_is_401(
    vendor, webhook_client, webhook_settings, enqueued
) -> None:
    body = load(NEW_TICKET[vendor])
    headers: dict[str, Any] = signed_headers(vendor, body)
    name = SIGNATURE_HEADER[vendor]
    headers[name] = headers[name].encode() + b"\xb2"

    response = post(webhook_client, vendor, body, headers)

    assert_refused(response, 401, webhook_settings, enqueued)


@pytest.mark.parametrize(
    ("vendor", "header"),
    [("zendesk", "X-Zendesk-Webhook-Signature-Timestamp"), ("standard", "webhook-timestamp")],
)
@pytest.mark.parametrize(
    "stamp", [b"1" * 20, b"\xb2", b"9999-12-31T23:59:59-23:59", b"0001-01-01T00:00:00+14:00"]
)
def test_malformed_timestamp_header_is_401(
    vendor, header, stamp, webhook_client, webhook_settings, enqueued
) -> None:
    body = load(NEW_TICKET[vendor])
    headers: dict[str, Any] = {**signed_headers(vendor, body), header: stamp}

    response = post(webhook_client, vendor, body, headers)

    assert_refused(response, 401, webhook_settings, enqueued)


def test_non_ascii_byte_in_freshdesk_basic_credentials_is_401(
    webhook_client, webhook_settings, enqueued
) -> None:
    body = load(NEW_TICKET["freshdesk"])
    headers: dict[str, Any] = {"Content-Type": "application/json", "Authorization": b"Basic \xb2\xb2"}

    response = post(webhook_client, "freshdesk", body, headers)

    assert_refused(response, 401, webhook_settings, enqueued)


@pytest.mark.parametrize("vendor", VENDORS)
def test_unknown_tenant_gets_the_answer_of_a_forged_signature(
    vendor, webhook_client, webhook_settings, enqueued
) -> None:
    body = load(NEW_TICKET[vendor])

    response = webhook_client.post(
        f"/v1/webhooks/{vendor}/nobody", content=body, headers=signed_headers(vendor, body)
    )

    assert_refused(response, 401, webhook_settings, enqueued)
    assert response.json() == {"detail": "signature refused"}


def test_nul_in_a_signed_body_is_stripped_before_storage(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["standard"]).replace(b"All our", b"All\\u0000 our")

    response = post(webhook_client, "standard", body, signed_headers("standard", body))

    assert response.status_code == 202
    ticket_id = response.json()["tickets"][0]["ticket_id"]
    stored = webhook_client.get(f"/v1/tickets/{ticket_id}", headers={"X-API-Key": "acme-key"}).json()
    assert "\x00" not in stored["messages"][0]["body"]

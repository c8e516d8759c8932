"""`POST /v1/webhooks/{connector}/{tenant}`: statuses a helpdesk sees, and what gets stored and queued."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from service.webhooks.base import BOT_MARKER
from tests.service.webhooks.signing import (
    NEW_TICKET,
    SIGNATURE_HEADER,
    VENDORS,
    flip_last_byte,
    load,
    reserialised,
    signed_headers,
    stale,
)


def post(client: TestClient, vendor: str, body: bytes, headers: dict[str, str], tenant: str = "acme"):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/webhooks/{vendor}/{tenant}", content=body, headers=headers)


@pytest.mark.parametrize("vendor", VENDORS)
def test_signed_documented_payload_is_accepted_stored_and_queued(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])

    response = post(webhook_client, vendor, body, signed_headers(vendor, body))

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted" and answer["duplicate"] is False
    ticket_id = answer["tickets"][0]["ticket_id"]
    assert enqueued == [("triage.classify", [[ticket_id]])]
    stored = webhook_client.get(f"/v1/tickets/{ticket_id}", headers={"X-API-Key": "acme-key"}).json()
    assert stored["source"] == vendor and stored["messages"][0]["author_role"] == "customer"
    assert "<" not in stored["messages"][0]["body"]  # vendor HTML reduced to text


@pytest.mark.parametrize("vendor", VENDORS)
def test_signature_off_by_one_byte_is_401_and_stores_nothing(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])

    response = post(webhook_client, vendor, body, flip_last_byte(vendor, signed_headers(vendor, body)))

    assert response.status_code == 401
    assert enqueued == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_missing_signature_header_is_401(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])
    headers = signed_headers(vendor, body)
    del headers[SIGNATURE_HEADER[vendor]]

    assert post(webhook_client, vendor, body, headers).status_code == 401
    assert enqueued == []


@pytest.mark.parametrize("vendor", [v for v in VENDORS if v != "freshdesk"])
def test_body_reserialised_after_signing_is_401(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])

    response = post(webhook_client, vendor, reserialised(body), signed_headers(vendor, body))

    assert response.status_code == 401
    assert enqueued == []


@pytest.mark.parametrize("vendor", ["zendesk", "standard"])
def test_stale_timestamp_is_401(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])

    response = post(webhook_client, vendor, body, signed_headers(vendor, body, now=stale()))

    assert response.status_code == 401
    assert enqueued == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_replayed_delivery_is_202_duplicate_and_queued_once(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])
    headers = signed_headers(vendor, body)

    first = post(webhook_client, vendor, body, headers)
    again = post(webhook_client, vendor, body, headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["duplicate"] is True and again.json()["status"] == "duplicate"
    assert again.json()["tickets"][0]["ticket_id"] == first.json()["tickets"][0]["ticket_id"]
    assert len(enqueued) == 1


@pytest.mark.parametrize(
    ("vendor", "fixture", "reply"),
    [
        ("zendesk", "zendesk/ticket_created.json", "zendesk/comment_added.json"),
        ("intercom", "intercom/conversation_user_created.json", "intercom/conversation_user_replied.json"),
        ("freshdesk", "freshdesk/ticket_created.json", "freshdesk/customer_reply.json"),
    ],
)
def test_customer_reply_appends_to_the_ticket_and_bumps_its_revision(
    vendor, fixture, reply, webhook_client, enqueued
) -> None:
    created = load(fixture)
    replied = load(reply)

    first = post(webhook_client, vendor, created, signed_headers(vendor, created)).json()
    second = post(webhook_client, vendor, replied, signed_headers(vendor, replied)).json()

    assert second["tickets"][0]["ticket_id"] == first["tickets"][0]["ticket_id"]
    assert second["tickets"][0]["revision"] == 2
    assert len(enqueued) == 2


def test_helpscout_customer_reply_event_adds_only_the_new_thread(webhook_client, enqueued) -> None:
    created, replied = load("helpscout/convo_created.json"), load("helpscout/customer_reply.json")
    post(webhook_client, "helpscout", created, signed_headers("helpscout", created))
    headers = signed_headers("helpscout", replied, event="convo.customer.reply.created")

    answer = post(webhook_client, "helpscout", replied, headers).json()

    stored = webhook_client.get(
        f"/v1/tickets/{answer['tickets'][0]['ticket_id']}", headers={"X-API-Key": "acme-key"}
    ).json()
    assert [m["body"] for m in stored["messages"]] == [
        "Every export since Monday fails with an error. Our month-end close is tomorrow. [urgency=critical]",
        "Nobody answered. I have asked three times now. [frustration=0.95]",
    ]


def test_same_delivery_id_with_another_signed_body_is_409_and_stores_nothing(
    webhook_client, enqueued, caplog
) -> None:
    body = load(NEW_TICKET["standard"])
    other = body.replace(b"10:00", b"11:00")
    assert other != body

    first = post(webhook_client, "standard", body, signed_headers("standard", body, delivery_id="d-1"))
    again = post(webhook_client, "standard", other, signed_headers("standard", other, delivery_id="d-1"))

    assert again.status_code == 409
    assert len(enqueued) == 1
    stored = webhook_client.get(
        f"/v1/tickets/{first.json()['tickets'][0]['ticket_id']}", headers={"X-API-Key": "acme-key"}
    ).json()
    assert stored["revision"] == 1 and "10:00" in stored["messages"][0]["body"]
    refused = [r.getMessage() for r in caplog.records if "reused" in r.getMessage()]
    assert refused and not any("11:00" in line or "d-1" in line for line in refused)


def test_zammad_replay_under_a_new_unsigned_delivery_header_is_a_duplicate(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["zammad"])

    post(webhook_client, "zammad", body, signed_headers("zammad", body, delivery_id="delivery-1"))
    again = post(webhook_client, "zammad", body, signed_headers("zammad", body, delivery_id="delivery-2"))

    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert len(enqueued) == 1


def test_unknown_connector_is_404(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["zendesk"])
    assert post(webhook_client, "kayako", body, signed_headers("zendesk", body)).status_code == 404


def test_unknown_tenant_is_answered_like_a_bad_signature(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["zendesk"])
    forged = signed_headers("zendesk", body, secret="guessed")

    unknown = post(webhook_client, "zendesk", body, forged, tenant="nobody")
    known = post(webhook_client, "zendesk", body, forged, tenant="acme")

    # Same status and body: a caller without the secret cannot tell which tenant names exist.
    assert unknown.status_code == known.status_code == 401
    assert unknown.json() == known.json()
    assert enqueued == []


def test_tenant_without_the_connector_is_answered_like_a_bad_signature(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["zendesk"])
    response = post(webhook_client, "zendesk", body, signed_headers("zendesk", body), tenant="default")
    assert response.status_code == 401
    assert response.json() == {"detail": "signature refused"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_tenant_without_a_secret_refuses_with_401(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])
    response = post(webhook_client, vendor, body, signed_headers(vendor, body), tenant="unsigned")
    assert response.status_code == 401
    assert enqueued == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_request_signed_for_one_tenant_is_refused_by_another(vendor, webhook_client, enqueued) -> None:
    body = load(NEW_TICKET[vendor])
    assert (
        post(webhook_client, vendor, body, signed_headers(vendor, body), tenant="globex").status_code == 401
    )


def test_each_tenant_keeps_its_own_tickets(webhook_client, enqueued) -> None:
    from tests.service.webhooks.signing import SECRETS

    body = load(NEW_TICKET["zendesk"])
    acme = post(webhook_client, "zendesk", body, signed_headers("zendesk", body)).json()
    globex_headers = signed_headers("zendesk", body, secret=SECRETS["zendesk"] + "-globex")
    globex = post(webhook_client, "zendesk", body, globex_headers, tenant="globex").json()

    # The same Zendesk event id in two accounts is two deliveries, two tickets.
    assert globex["duplicate"] is False
    assert acme["tickets"][0]["ticket_id"] != globex["tickets"][0]["ticket_id"]


def test_tenant_in_the_query_string_works_like_the_path(webhook_client, enqueued) -> None:
    body = load(NEW_TICKET["intercom"])
    response = webhook_client.post(
        "/v1/webhooks/intercom?tenant=acme", content=body, headers=signed_headers("intercom", body)
    )
    assert response.status_code == 202


def test_signed_body_that_is_not_json_is_422(webhook_client, enqueued) -> None:
    body = b'{"ticket": '
    response = post(webhook_client, "zammad", body, signed_headers("zammad", body))
    assert response.status_code == 422
    assert enqueued == []


def test_unsigned_garbage_is_401_not_422(webhook_client, enqueued) -> None:
    # The parser never sees a body whose signature failed.
    body = b'{"ticket": '
    headers = flip_last_byte("zammad", signed_headers("zammad", body))
    assert post(webhook_client, "zammad", body, headers).status_code == 401


def test_signed_payload_missing_a_field_is_422_naming_it(webhook_client, enqueued) -> None:
    payload = json.loads(load(NEW_TICKET["zendesk"]))
    del payload["detail"]["id"]
    body = json.dumps(payload).encode()

    response = post(webhook_client, "zendesk", body, signed_headers("zendesk", body))

    assert response.status_code == 422
    assert "detail.id" in response.json()["detail"]


def test_body_over_the_limit_is_413(sqlite_url, tmp_path, enqueued) -> None:
    import yaml

    from service.main import create_app
    from tests.conftest import make_settings
    from tests.service.webhooks.conftest import tenants_document
    from tests.service.webhooks.signing import SECRETS

    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    body = load(NEW_TICKET["zammad"])
    with TestClient(create_app(make_settings(sqlite_url, tenants_file=path, max_body_bytes=200))) as client:
        response = post(client, "zammad", body, signed_headers("zammad", body))
    assert response.status_code == 413


def _with(payload_file: str, mutate) -> bytes:  # type: ignore[no-untyped-def]
    payload = json.loads(load(payload_file))
    mutate(payload)
    return json.dumps(payload).encode()


BOT_EVENTS = {
    "zendesk": _with(
        "zendesk/comment_added.json",
        lambda p: p["event"]["comment"].update(
            body=f"Triage: urgent\n{BOT_MARKER} abc.1.zendesk.ticket.triaged"
        ),
    ),
    "zammad": _with("zammad/article_created.json", lambda p: p["article"].update(created_by_id="bot-1")),
    "intercom": _with(
        "intercom/conversation_user_replied.json",
        lambda p: p["data"]["item"]["conversation_parts"]["conversation_parts"][-1]["author"].update(
            id="bot-1"
        ),
    ),
    "standard": _with(
        "standard/ticket_created.json",
        lambda p: p["data"]["messages"][0].update(body=f"note\n{BOT_MARKER} x.1.webhook.ticket.triaged"),
    ),
}


@pytest.mark.parametrize("vendor", sorted(BOT_EVENTS))
def test_event_our_own_bot_caused_is_ignored_with_200(vendor, webhook_client, enqueued) -> None:
    body = BOT_EVENTS[vendor]

    response = post(webhook_client, vendor, body, signed_headers(vendor, body))

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert enqueued == []


def test_agent_note_events_are_ignored(webhook_client, enqueued) -> None:
    zammad = _with(
        "zammad/article_created.json", lambda p: p["article"].update(sender="Agent", internal=True)
    )
    helpscout = load("helpscout/customer_reply.json")
    intercom = _with(
        "intercom/conversation_user_replied.json", lambda p: p.update(topic="conversation.admin.noted")
    )

    answers = [
        post(webhook_client, "zammad", zammad, signed_headers("zammad", zammad)),
        post(
            webhook_client,
            "helpscout",
            helpscout,
            signed_headers("helpscout", helpscout, event="convo.note.created"),
        ),
        post(webhook_client, "intercom", intercom, signed_headers("intercom", intercom)),
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert enqueued == []


def test_very_long_message_is_trimmed_not_refused(webhook_client, webhook_settings, enqueued) -> None:
    long_text = "x" * (webhook_settings.max_message_chars + 500)
    body = _with(
        "zammad/article_created.json",
        lambda p: p["article"].update(body=long_text, content_type="text/plain"),
    )

    response = post(webhook_client, "zammad", body, signed_headers("zammad", body))

    assert response.status_code == 202
    stored = webhook_client.get(
        f"/v1/tickets/{response.json()['tickets'][0]['ticket_id']}", headers={"X-API-Key": "acme-key"}
    ).json()
    assert len(stored["messages"][0]["body"]) == webhook_settings.max_message_chars

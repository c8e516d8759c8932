"""Each vendor's documented payload mapped to the canonical Ticket."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from service.domain import AuthorRole
from service.tenants import ConnectorConfig
from service.webhooks import VENDORS
from service.webhooks.base import PayloadError, html_to_text
from tests.service.webhooks.signing import load

CONFIG = ConnectorConfig(secret=SecretStr("s"), bot_user_ids=["bot-1"])


def normalise(vendor: str, name: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    raw = load(name)
    return VENDORS[vendor].normalise(json.loads(raw), headers or {}, CONFIG, tenant="acme", raw_body=raw)


def test_zendesk_ticket_created_event() -> None:
    [delivery] = normalise("zendesk", "zendesk/ticket_created.json").deliveries
    ticket = delivery.ticket
    assert delivery.delivery_id == "cbe4028c-7239-495d-b020-f22348516046"
    assert (ticket.tenant, ticket.source, ticket.external_id) == ("acme", "zendesk", "35436")
    assert ticket.subject == "Invoices page down" and ticket.tags == ["billing"]
    assert ticket.requester_id == "8447388090494" and ticket.priority == "normal"
    assert ticket.messages[0].author_role == AuthorRole.CUSTOMER
    assert ticket.messages[0].body.startswith("The invoices page has been down")


def test_zendesk_comment_added_carries_the_comment_id() -> None:
    [delivery] = normalise("zendesk", "zendesk/comment_added.json").deliveries
    assert delivery.ticket.messages[0].external_id == "9120001"
    assert "third time" in delivery.ticket.messages[0].body


def test_zendesk_trigger_template() -> None:
    [delivery] = normalise(
        "zendesk", "zendesk/trigger.json", {"x-zendesk-webhook-invocation-id": "inv-1"}
    ).deliveries
    [same] = normalise(
        "zendesk", "zendesk/trigger.json", {"x-zendesk-webhook-invocation-id": "inv-2"}
    ).deliveries
    # Keyed on what is signed (timestamp and body), not on the unsigned invocation id header.
    assert delivery.delivery_id.startswith("sha256:") and delivery.delivery_id == same.delivery_id
    assert delivery.ticket.tags == ["billing", "refund"] and delivery.ticket.group == "Billing"


def test_zendesk_other_event_types_are_ignored() -> None:
    payload = json.loads(load("zendesk/ticket_created.json")) | {
        "type": "zen:event-type:ticket.priority_changed"
    }
    outcome = VENDORS["zendesk"].normalise(payload, {}, CONFIG, tenant="acme", raw_body=b"")
    assert outcome.ignored and not outcome.deliveries


def test_freshdesk_rule_body_with_html_description() -> None:
    [delivery] = normalise("freshdesk", "freshdesk/ticket_created.json").deliveries
    ticket = delivery.ticket
    assert ticket.external_id == "1042" and ticket.tags == ["login", "enterprise"]
    assert ticket.messages[0].body == (
        "Since the update none of our agents can log in.\nWe are losing sales. [urgency=critical]"
    )
    assert delivery.delivery_id.startswith("sha256:")


def test_freshdesk_customer_reply_uses_the_latest_public_comment() -> None:
    [delivery] = normalise("freshdesk", "freshdesk/customer_reply.json").deliveries
    assert delivery.ticket.messages[0].body == "Any news? Still nobody can log in. [frustration=0.8]"


def test_zammad_default_payload() -> None:
    [delivery] = normalise("zammad", "zammad/article_created.json", {"x-zammad-delivery": "d-1"}).deliveries
    ticket = delivery.ticket
    # X-Zammad-Delivery is not signed: the signed body's hash is the delivery id.
    assert delivery.delivery_id.startswith("sha256:")
    assert (ticket.external_id, ticket.priority, ticket.group) == ("77", "2 normal", "Users")
    assert ticket.requester_id == "3" and ticket.messages[0].external_id == "104"


def test_helpscout_reply_keeps_customer_threads_oldest_first() -> None:
    outcome = normalise(
        "helpscout", "helpscout/customer_reply.json", {"x-helpscout-event": "convo.customer.reply.created"}
    )
    ticket = outcome.deliveries[0].ticket
    assert [m.external_id for m in ticket.messages] == ["88171881", "88171899"]
    assert ticket.requester_id == "501" and ticket.tags == ["exports"]


def test_intercom_new_conversation_and_reply() -> None:
    [created] = normalise("intercom", "intercom/conversation_user_created.json").deliveries
    [replied] = normalise("intercom", "intercom/conversation_user_replied.json").deliveries
    assert created.delivery_id.startswith("notif_") and created.ticket.external_id == "148"
    assert replied.ticket.messages[0].external_id == "20001" and replied.ticket.tags == ["vip"]


def test_standard_payload_maps_the_generic_ticket_json() -> None:
    [delivery] = normalise("standard", "standard/ticket_created.json", {"webhook-id": "msg_1"}).deliveries
    assert delivery.ticket.source == "standard" and delivery.ticket.external_id == "SW-2001"


def test_standard_payload_with_an_invalid_field_names_it() -> None:
    payload = json.loads(load("standard/ticket_created.json"))
    payload["data"]["messages"] = []
    with pytest.raises(PayloadError, match=r"data\.messages"):
        VENDORS["standard"].normalise(payload, {"webhook-id": "m"}, CONFIG, tenant="acme", raw_body=b"")


def test_html_to_text_drops_markup_and_scripts_but_keeps_line_breaks() -> None:
    assert (
        html_to_text("<p>Hi &amp; bye</p><script>alert(1)</script><div>next<br>line</div>")
        == "Hi & bye\n\nnext\nline"
    )

"""Intercom webhooks (Developer Hub topic subscriptions).

From Intercom's webhook docs (https://developers.intercom.com/docs/webhooks, verified): notifications
are `{"type": "notification_event", "topic", "id": "notif_...", "data": {"item": {...}}}`, signed with
the app's client secret as `X-Hub-Signature: sha1=<hex HMAC-SHA1(body)>`. The notification `id` is the
dedupe key (Intercom retries a failed notification). Conversation fields (`source`, `conversation_parts`,
`author.type`) follow Intercom's conversation model (verified for the fields used here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.domain import AuthorRole, Message, Ticket
from service.tenants import ConnectorConfig
from service.webhooks.base import (
    Delivery,
    HubSignatureVendor,
    Normalised,
    PayloadError,
    html_to_text,
    is_ours,
    object_field,
    optional_object,
    text_field,
)

CUSTOMER_AUTHORS = ("user", "lead", "contact")
TOPIC_CREATED = "conversation.user.created"
TOPIC_REPLIED = "conversation.user.replied"


class IntercomWebhook(HubSignatureVendor):
    name = "intercom"

    def normalise(
        self,
        payload: Any,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        *,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        topic = text_field(payload, "topic", where="body")
        if topic not in (TOPIC_CREATED, TOPIC_REPLIED):
            return Normalised.ignore(f"topic {topic} is not triaged")
        notification_id = text_field(payload, "id", where="body")
        item = object_field(object_field(payload, "data", where="body"), "item", where="data")
        if topic == TOPIC_CREATED:
            source = object_field(item, "source", where="data.item")
            part, where = source, "data.item.source"
        else:
            parts_wrapper = optional_object(item, "conversation_parts")
            parts = [p for p in parts_wrapper.get("conversation_parts") or [] if isinstance(p, dict)]
            if not parts:
                raise PayloadError("data.item.conversation_parts: missing")
            part, where = parts[-1], "data.item.conversation_parts[-1]"
        author = optional_object(part, "author")
        body = html_to_text(text_field(part, "body", where=where))
        if is_ours(body, author.get("id"), config):
            return Normalised.ignore("part written by this service")
        if author.get("type") not in CUSTOMER_AUTHORS:
            return Normalised.ignore("not a customer message")
        tags_wrapper = optional_object(item, "tags")
        tags = [str(t.get("name")) for t in tags_wrapper.get("tags") or [] if isinstance(t, dict)]
        subject = text_field(item, "title", where="data.item", required=False)
        if not subject and topic == TOPIC_CREATED:
            subject = html_to_text(text_field(part, "subject", where=where, required=False))
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(item, "id", where="data.item"),
            subject=subject,
            messages=[
                Message(
                    author_role=AuthorRole.CUSTOMER,
                    body=body,
                    external_id=text_field(part, "id", where=where, required=False) or None,
                )
            ],
            requester_id=str(author["id"]) if author.get("id") is not None else None,
            tags=tags,
        )
        return Normalised([Delivery(ticket, notification_id)])

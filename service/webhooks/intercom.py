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
    CLOSED,
    REOPENED,
    Delivery,
    HubSignatureVendor,
    Normalised,
    PayloadError,
    StateChange,
    html_to_text,
    is_ours,
    parse_payload,
)
from service.webhooks.schemas import IntercomNotification, IntercomStateNotification

CUSTOMER_AUTHORS = ("user", "lead", "contact")
TOPIC_CREATED = "conversation.user.created"
TOPIC_REPLIED = "conversation.user.replied"
# An admin closed or reopened the conversation (Intercom's webhook topics, verified by name).
TOPIC_CLOSED = "conversation.admin.closed"
STATE_TOPICS = (TOPIC_CLOSED, "conversation.admin.opened")


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
        topic = payload.get("topic") if isinstance(payload, dict) else None
        if isinstance(topic, str) and topic in STATE_TOPICS:
            closing = parse_payload(IntercomStateNotification, payload)
            state = CLOSED if closing.topic == TOPIC_CLOSED else REOPENED
            return Normalised(state=StateChange(tenant, closing.data.item.id, state, closing.id))
        notification = parse_payload(IntercomNotification, payload)
        topic = notification.topic
        if topic not in (TOPIC_CREATED, TOPIC_REPLIED):
            return Normalised.ignore(f"topic {topic} is not triaged")
        item = notification.data.item
        if topic == TOPIC_CREATED:
            if item.source is None:
                raise PayloadError("data.item.source: missing")
            part = item.source
        else:
            if item.conversation_parts is None or not item.conversation_parts.conversation_parts:
                raise PayloadError("data.item.conversation_parts: missing")
            part = item.conversation_parts.conversation_parts[-1]
        body = html_to_text(part.body)
        if is_ours(body, part.author.id, config):
            return Normalised.ignore("part written by this service")
        if part.author.type not in CUSTOMER_AUTHORS:
            return Normalised.ignore("not a customer message")
        subject = item.title or ""
        if not subject and topic == TOPIC_CREATED:
            subject = html_to_text(part.subject or "")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=item.id,
            subject=subject,
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body, external_id=part.id or None)],
            requester_id=part.author.id,
            tags=[tag.name for tag in item.tags.tags],
        )
        return Normalised([Delivery(ticket, notification.id)])

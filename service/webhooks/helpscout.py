"""Help Scout webhooks (Webhooks app, payload v2).

From Help Scout's webhook docs (https://developer.helpscout.com/webhooks/, verified): the event name
is in `X-HelpScout-Event` (`convo.created`, `convo.customer.reply.created`, ...), and
`X-HelpScout-Signature = base64(HMAC-SHA1(secret key, raw body))`. The body is a v2 Conversation
object; threads under `_embedded.threads` with `type` and `createdBy.type` (`customer` or `user`)
follow the Mailbox API 2.0 conversation/thread reference (verified for the fields used here).
Help Scout sends no delivery id, so the event name plus the body's hash is the dedupe key.
`convo.status` (a Conversation with its `status`) and `convo.deleted` (`{"id": ...}`) record the
conversation's state for retention (same page, verified). The event is in a header, which a body
schema cannot refer to, so every event's body is read as one Conversation shape (`id` required), and a
triaged event whose conversation has no customer thread with a body is accepted and ignored (200).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from service.domain import AuthorRole, Message, Ticket
from service.tenants import ConnectorConfig
from service.webhooks.base import (
    CLOSED,
    DELETED,
    REOPENED,
    Delivery,
    Normalised,
    SignatureError,
    StateChange,
    WebhookVendor,
    any_digest_matches,
    decode_base64,
    html_to_text,
    is_ours,
    parse_payload,
    require_secrets,
)
from service.webhooks.schemas import HelpScoutConversation, HelpScoutTag

TRIAGED_EVENTS = ("convo.created", "convo.customer.reply.created")
# A conversation's status changed (`active`, `pending`, `closed`, `spam`) or it was deleted.
STATE_EVENTS = ("convo.status", "convo.deleted")
CLOSED_STATUSES = ("closed", "spam")


class HelpScoutWebhook(WebhookVendor):
    name = "helpscout"

    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        secrets = require_secrets(config)
        signature = headers.get("x-helpscout-signature")
        if not signature:
            raise SignatureError("missing X-HelpScout-Signature header")
        if not any_digest_matches(decode_base64(signature), secrets, raw_body, "sha1"):
            raise SignatureError("signature does not match")

    def normalise(
        self,
        payload: Any,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        *,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        event = headers.get("x-helpscout-event", "")
        delivery_id = "sha256:" + hashlib.sha256(event.encode() + b"\n" + raw_body).hexdigest()
        if event in STATE_EVENTS:
            return self._state(event, parse_payload(HelpScoutConversation, payload), tenant, delivery_id)
        if event not in TRIAGED_EVENTS:
            return Normalised.ignore(f"event {event[:64] or '(none)'} is not triaged")
        # One body schema serves every event (the event is in a header), so a triaged event whose
        # conversation has no customer thread with a body is valid, and ignored rather than refused.
        conversation = parse_payload(HelpScoutConversation, payload)
        if conversation.embedded is None:
            return Normalised.ignore("conversation without _embedded.threads: no message to triage")
        # Newest first in the API; sort by createdAt so "latest" does not depend on the order sent.
        ordered = sorted(conversation.embedded.threads, key=lambda t: t.createdAt or "")
        latest = ordered[-1]
        latest_body = html_to_text(latest.body or "")
        if is_ours(latest_body, latest.createdBy.id, config):
            return Normalised.ignore("thread written by this service")
        if latest.type != "customer" and latest.createdBy.type != "customer":
            return Normalised.ignore("not a customer message")
        texts = [(t, html_to_text(t.body)) for t in ordered if t.type == "customer" and t.body]
        messages = [
            Message(author_role=AuthorRole.CUSTOMER, body=text, external_id=t.id) for t, text in texts if text
        ]
        if not messages:
            return Normalised.ignore("no customer thread with a body")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=conversation.id,
            subject=conversation.subject or "",
            messages=messages,
            requester_id=conversation.primaryCustomer.id,
            tags=[t.tag if isinstance(t, HelpScoutTag) else t for t in conversation.tags or []],
        )
        return Normalised([Delivery(ticket, delivery_id)])

    def _state(
        self, event: str, conversation: HelpScoutConversation, tenant: str, delivery_id: str
    ) -> Normalised:
        """Map `convo.deleted` and `convo.status` to the conversation's state."""
        if event == "convo.deleted":
            return Normalised(state=StateChange(tenant, conversation.id, DELETED, delivery_id))
        status = (conversation.status or "").lower()
        if not status:
            return Normalised.ignore("status change without a status")
        state = CLOSED if status in CLOSED_STATUSES else REOPENED
        return Normalised(state=StateChange(tenant, conversation.id, state, delivery_id))

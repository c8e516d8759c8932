"""Help Scout webhooks (Webhooks app, payload v2).

From Help Scout's webhook docs (https://developer.helpscout.com/webhooks/, verified): the event name
is in `X-HelpScout-Event` (`convo.created`, `convo.customer.reply.created`, ...), and
`X-HelpScout-Signature = base64(HMAC-SHA1(secret key, raw body))`. The body is a v2 Conversation
object; threads under `_embedded.threads` with `type` and `createdBy.type` (`customer` or `user`)
follow the Mailbox API 2.0 conversation/thread reference (verified for the fields used here).
Help Scout sends no delivery id, so the event name plus the body's hash is the dedupe key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from service.domain import AuthorRole, Message, Ticket
from service.tenants import ConnectorConfig
from service.webhooks.base import (
    Delivery,
    Normalised,
    PayloadError,
    SignatureError,
    WebhookVendor,
    any_digest_matches,
    decode_base64,
    html_to_text,
    is_ours,
    optional_list,
    optional_object,
    require_secrets,
    text_field,
)

TRIAGED_EVENTS = ("convo.created", "convo.customer.reply.created")


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
        if event not in TRIAGED_EVENTS:
            return Normalised.ignore(f"event {event or '(none)'} is not triaged")
        if not isinstance(payload, dict):
            raise PayloadError("body: expected a conversation object")
        embedded = optional_object(payload, "_embedded")
        threads = optional_list(embedded, "threads")
        if not threads:
            raise PayloadError("_embedded.threads: missing")
        # Newest first in the API; sort by createdAt so "latest" does not depend on the order sent.
        ordered = sorted(
            (t for t in threads if isinstance(t, dict)), key=lambda t: str(t.get("createdAt", ""))
        )
        latest = ordered[-1]
        author = optional_object(latest, "createdBy")
        latest_body = html_to_text(str(latest.get("body") or ""))
        if is_ours(latest_body, author.get("id"), config):
            return Normalised.ignore("thread written by this service")
        if latest.get("type") != "customer" and author.get("type") != "customer":
            return Normalised.ignore("not a customer message")
        messages = [
            Message(
                author_role=AuthorRole.CUSTOMER,
                body=html_to_text(str(t.get("body") or "")),
                external_id=str(t["id"]) if t.get("id") is not None else None,
            )
            for t in ordered
            if t.get("type") == "customer" and t.get("body")
        ]
        if not messages:
            raise PayloadError("_embedded.threads: no customer thread with a body")
        customer = optional_object(payload, "primaryCustomer")
        tags = optional_list(payload, "tags")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(payload, "id", where="body"),
            subject=text_field(payload, "subject", where="body", required=False),
            messages=messages,
            requester_id=str(customer["id"]) if customer.get("id") is not None else None,
            tags=[str(t.get("tag")) if isinstance(t, dict) else str(t) for t in tags],
        )
        delivery_id = "sha256:" + hashlib.sha256(event.encode() + b"\n" + raw_body).hexdigest()
        return Normalised([Delivery(ticket, delivery_id)])

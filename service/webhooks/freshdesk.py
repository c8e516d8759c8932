"""Freshdesk automation-rule webhooks ("Trigger webhook" action with a JSON body the admin writes).

Freshdesk does not sign webhooks (unverified: no signing is described in Freshdesk's automation
docs), so the admin adds either a custom header `X-Triage-Secret: <secret>` or basic credentials
(`basic_username` / secret) to the rule, and we compare them in constant time. The body is the
template from docs/connectors.md; its placeholders (`{{ticket.id}}`, `{{ticket.latest_public_comment}}`,
...) follow Freshdesk's placeholder list (unverified in Freshdesk's own docs).
"""

from __future__ import annotations

import base64
import binascii
import hmac
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
    body_fingerprint,
    html_to_text,
    is_ours,
    object_field,
    require_secrets,
    text_field,
)

SECRET_HEADER = "x-triage-secret"
EVENTS = ("ticket_created", "customer_reply")


def _matches_any(presented: bytes, secrets: list[bytes]) -> bool:
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret, presented)
    return matched


class FreshdeskWebhook(WebhookVendor):
    name = "freshdesk"

    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        secrets = require_secrets(config)
        presented = headers.get(SECRET_HEADER)
        if presented is not None:
            if _matches_any(presented.encode(), secrets):
                return
            raise SignatureError("shared secret does not match")
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).partition(b":")
            except (binascii.Error, ValueError) as exc:
                raise SignatureError("malformed basic credentials") from exc
            user_ok = hmac.compare_digest(user, config.basic_username.encode())
            if _matches_any(password, secrets) and user_ok:
                return
            raise SignatureError("basic credentials do not match")
        raise SignatureError(f"missing {SECRET_HEADER} header or basic credentials")

    def normalise(
        self,
        payload: Any,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        *,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        if not isinstance(payload, dict):
            raise PayloadError("body: expected a JSON object")
        event = text_field(payload, "event", where="body")
        if event not in EVENTS:
            return Normalised.ignore(f"event {event} is not triaged")
        ticket_in = object_field(payload, "ticket", where="body")
        key = "description" if event == "ticket_created" else "latest_public_comment"
        body = html_to_text(text_field(ticket_in, key, where="ticket"))
        if is_ours(body, None, config):
            return Normalised.ignore("comment written by this service")
        tags = ticket_in.get("tags") or ""
        # `{{ticket.tags}}` renders as a comma-separated string.
        tag_list = [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else list(tags)
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(ticket_in, "id", where="ticket"),
            subject=text_field(ticket_in, "subject", where="ticket", required=False),
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=text_field(ticket_in, "requester_email", where="ticket", required=False) or None,
            tags=tag_list,
            priority=text_field(ticket_in, "priority", where="ticket", required=False) or None,
            group=text_field(ticket_in, "group", where="ticket", required=False) or None,
        )
        # Freshdesk sends no delivery id; a retry resends the same bytes, so their hash dedupes it.
        return Normalised([Delivery(ticket, body_fingerprint(raw_body))])

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
    CLOSED,
    DELETED,
    REOPENED,
    Delivery,
    Normalised,
    PayloadError,
    SignatureError,
    StateChange,
    WebhookVendor,
    body_fingerprint,
    html_to_text,
    is_ours,
    parse_payload,
    require_secrets,
)
from service.webhooks.schemas import FreshdeskRule, FreshdeskStateRule

SECRET_HEADER = "x-triage-secret"
EVENTS = ("ticket_created", "customer_reply")
# Rules the admin adds for a ticket resolved or closed, deleted, or reopened (docs/connectors.md).
STATE_EVENTS = {"ticket_closed": CLOSED, "ticket_deleted": DELETED, "ticket_reopened": REOPENED}


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
        event = payload.get("event") if isinstance(payload, dict) else None
        # Only a string can name a state rule: `{"event": {}}` was a TypeError (a 500); anything else
        # is validated as a rule below and refused (422) naming the field.
        if isinstance(event, str) and event in STATE_EVENTS:
            changed = parse_payload(FreshdeskStateRule, payload)
            state = STATE_EVENTS[changed.event]
            return Normalised(state=StateChange(tenant, changed.ticket.id, state, body_fingerprint(raw_body)))
        rule = parse_payload(FreshdeskRule, payload)
        if rule.event not in EVENTS:
            return Normalised.ignore(f"event {rule.event} is not triaged")
        ticket_in = rule.ticket
        key = "description" if rule.event == "ticket_created" else "latest_public_comment"
        text = getattr(ticket_in, key)
        if not text:
            raise PayloadError(f"ticket.{key}: missing")
        body = html_to_text(text)
        if is_ours(body, None, config):
            return Normalised.ignore("comment written by this service")
        tags = ticket_in.tags or []
        # `{{ticket.tags}}` renders as a comma-separated string.
        tag_list = [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else tags
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=ticket_in.id,
            subject=ticket_in.subject or "",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=ticket_in.requester_email or None,
            tags=tag_list,
            priority=ticket_in.priority or None,
            group=ticket_in.group or None,
        )
        # Freshdesk sends no delivery id; a retry resends the same bytes, so their hash dedupes it.
        return Normalised([Delivery(ticket, body_fingerprint(raw_body))])

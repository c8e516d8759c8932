"""Zammad trigger webhooks.

Signing and headers, from Zammad's admin documentation (manage/webhook/payload.rst) and
lib/user_agent.rb (verified): `X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>`, `X-Zammad-Delivery`
(a unique id per delivery, kept across Zammad's retries, but unsigned: we dedupe on the body),
`X-Zammad-Trigger` (the trigger's name).
The default payload is `{"ticket": {...}, "article": {...}}` (verified, same page). An update without
an article (a trigger on a state change) records the ticket's `state` for retention.
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
    StateChange,
    body_fingerprint,
    html_to_text,
    is_ours,
    parse_payload,
)
from service.webhooks.schemas import ZammadReference, ZammadTicket, ZammadTrigger

# Zammad's default state names; a merged ticket lives on in the one it was merged into.
CLOSED_STATES = ("closed", "merged")


def _name(value: ZammadReference | str | None) -> str | None:
    """Return a Zammad reference's name: `{"name": "2 normal"}` or the plain string."""
    if isinstance(value, ZammadReference):
        return value.name or None
    return value or None


class ZammadWebhook(HubSignatureVendor):
    name = "zammad"

    def normalise(
        self,
        payload: Any,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        *,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        if isinstance(payload, dict) and payload.get("article") in ({}, None):
            # Validate the ticket all the same: a signed body is either understood or refused.
            updated = parse_payload(ZammadTicket, payload.get("ticket"), prefix="ticket.")
            return self._state(updated, tenant, raw_body)
        trigger = parse_payload(ZammadTrigger, payload)
        ticket_in, article = trigger.ticket, trigger.article
        if article is None:
            return self._state(ticket_in, tenant, raw_body)
        body = article.body
        if "html" in (article.content_type or ""):
            body = html_to_text(body)
        if is_ours(body, article.created_by_id, config):
            return Normalised.ignore("article written by this service")
        sender = _name(article.sender)
        if article.internal or (sender or "").lower() != "customer":
            return Normalised.ignore("not a customer message")
        customer_id = (ticket_in.customer.id if ticket_in.customer else None) or ticket_in.customer_id
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=ticket_in.id,
            subject=ticket_in.title or "",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body, external_id=article.id or None)],
            requester_id=customer_id or None,
            tags=ticket_in.tags or [],
            priority=_name(ticket_in.priority),
            group=_name(ticket_in.group),
        )
        # X-Zammad-Delivery is not signed: keyed on it, a captured request replayed with a new header
        # would count as new. The body is signed and Zammad resends the same bytes, so its hash is
        # the delivery id.
        return Normalised([Delivery(ticket, body_fingerprint(raw_body))])

    def _state(self, ticket: ZammadTicket, tenant: str, raw_body: bytes) -> Normalised:
        """Record a ticket update without a message as the ticket's state: closed, merged or open."""
        state = (_name(ticket.state) or "").lower()
        if not state:
            return Normalised.ignore("no article: a ticket update without a message")
        change = CLOSED if state in CLOSED_STATES else REOPENED
        return Normalised(state=StateChange(tenant, ticket.id, change, body_fingerprint(raw_body)))

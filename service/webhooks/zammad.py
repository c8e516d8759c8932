"""Zammad trigger webhooks.

Signing and headers, from Zammad's admin documentation (manage/webhook/payload.rst) and
lib/user_agent.rb (verified): `X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>`, `X-Zammad-Delivery`
(a unique id per delivery, kept across Zammad's retries), `X-Zammad-Trigger` (the trigger's name).
The default payload is `{"ticket": {...}, "article": {...}}` (verified, same page).
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
    body_fingerprint,
    html_to_text,
    is_ours,
    object_field,
    optional_object,
    text_field,
)


def _name(value: Any) -> str | None:
    """Return a Zammad reference's name: `{"name": "2 normal"}` or the plain string."""
    if isinstance(value, dict):
        return str(value["name"]) if value.get("name") else None
    return str(value) if value else None


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
        ticket_in = object_field(payload, "ticket", where="body")
        article = payload.get("article")
        if not isinstance(article, dict) or not article:
            return Normalised.ignore("no article: a ticket update without a message")
        body = text_field(article, "body", where="article")
        if "html" in str(article.get("content_type", "")):
            body = html_to_text(body)
        if is_ours(body, article.get("created_by_id"), config):
            return Normalised.ignore("article written by this service")
        sender = _name(article.get("sender"))
        if article.get("internal") or (sender or "").lower() != "customer":
            return Normalised.ignore("not a customer message")
        customer = optional_object(ticket_in, "customer")
        tags = ticket_in.get("tags")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(ticket_in, "id", where="ticket"),
            subject=text_field(ticket_in, "title", where="ticket", required=False),
            messages=[
                Message(
                    author_role=AuthorRole.CUSTOMER,
                    body=body,
                    external_id=text_field(article, "id", where="article", required=False) or None,
                )
            ],
            requester_id=str(customer.get("id") or ticket_in.get("customer_id") or "") or None,
            tags=[str(t) for t in tags] if isinstance(tags, list) else [],
            priority=_name(ticket_in.get("priority")),
            group=_name(ticket_in.get("group")),
        )
        delivery_id = headers.get("x-zammad-delivery") or body_fingerprint(raw_body)
        if not delivery_id.strip():
            raise PayloadError("X-Zammad-Delivery: empty")
        return Normalised([Delivery(ticket, delivery_id)])

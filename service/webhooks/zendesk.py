"""Zendesk webhooks: event subscriptions (`zen:event-type:ticket.*`) and trigger-connected webhooks.

Signing, from Zendesk's "Verifying webhook authenticity"
(https://developer.zendesk.com/documentation/webhooks/verifying/, verified):
`X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`, with the timestamp from
`X-Zendesk-Webhook-Signature-Timestamp` (ISO-8601) and no separator. Zendesk documents no replay
window, so we enforce the connector's tolerance (±5 minutes by default) around our clock.

Payloads: the event envelope (`type`, `id`, `subject`, `detail`, `event`) and the `detail` fields
follow Zendesk's "Ticket events" webhook reference (verified). The fields inside `event.comment`
(`id`, `body`, `is_public`, `author.id`, `author.is_staff`) come from a third-party schema of that
event, consistent with Zendesk's listing but unverified on Zendesk's own page. Trigger webhooks carry
the JSON body the admin pastes from docs/connectors.md (`triage_template`); every request carries
`x-zendesk-webhook-invocation-id` ("Anatomy of a webhook request", verified).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
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
    body_fingerprint,
    decode_base64,
    html_to_text,
    is_ours,
    object_field,
    optional_object,
    require_secrets,
    text_field,
)

TEMPLATE = "zendesk-trigger-v1"


def parse_timestamp(value: str) -> datetime:
    """Parse Zendesk's ISO-8601 signature timestamp (`2021-08-23T19:32:18Z`)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureError("signature timestamp is not ISO-8601") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ZendeskWebhook(WebhookVendor):
    name = "zendesk"

    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        secrets = require_secrets(config)
        signature = headers.get("x-zendesk-webhook-signature")
        timestamp = headers.get("x-zendesk-webhook-signature-timestamp")
        if not signature or not timestamp:
            raise SignatureError("missing Zendesk signature headers")
        # The timestamp is inside the signed bytes, so checking its age stops replays of old requests.
        age = abs((now - parse_timestamp(timestamp)).total_seconds())
        if age > config.timestamp_tolerance_seconds:
            raise SignatureError("signature timestamp outside the allowed window")
        if not any_digest_matches(decode_base64(signature), secrets, timestamp.encode() + raw_body, "sha256"):
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
        if not isinstance(payload, dict):
            raise PayloadError("body: expected a JSON object")
        if payload.get("triage_template") == TEMPLATE:
            return self._trigger(payload, headers, config, tenant, raw_body)
        kind = payload.get("type")
        if not isinstance(kind, str):
            raise PayloadError("type: missing (expected a Zendesk event or the triage trigger template)")
        if kind == "zen:event-type:ticket.created":
            return self._created(payload, config, tenant)
        if kind == "zen:event-type:ticket.comment_added":
            return self._comment_added(payload, config, tenant)
        return Normalised.ignore(f"event type {kind} is not triaged")

    def _created(self, payload: dict[str, Any], config: ConnectorConfig, tenant: str) -> Normalised:
        event_id = text_field(payload, "id", where="body")
        detail = object_field(payload, "detail", where="body")
        ticket_id = text_field(detail, "id", where="detail")
        body = html_to_text(text_field(detail, "description", where="detail"))
        requester = text_field(detail, "requester_id", where="detail", required=False) or None
        if is_ours(body, requester, config):
            return Normalised.ignore("ticket created by this service")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=ticket_id,
            subject=text_field(detail, "subject", where="detail", required=False),
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=requester,
            tags=[str(t) for t in detail.get("tags") or []],
            # Event payloads spell priorities in capitals ("HIGH"); the API and triggers in lower case.
            priority=text_field(detail, "priority", where="detail", required=False).lower() or None,
            group=text_field(detail, "group_id", where="detail", required=False) or None,
        )
        return Normalised([Delivery(ticket, event_id)])

    def _comment_added(self, payload: dict[str, Any], config: ConnectorConfig, tenant: str) -> Normalised:
        event_id = text_field(payload, "id", where="body")
        detail = object_field(payload, "detail", where="body")
        comment = object_field(object_field(payload, "event", where="body"), "comment", where="event")
        author = optional_object(comment, "author")
        body = html_to_text(text_field(comment, "body", where="event.comment"))
        if is_ours(body, author.get("id"), config):
            return Normalised.ignore("comment written by this service")
        if author.get("is_staff") or comment.get("is_public") is False:
            return Normalised.ignore("not a customer message")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(detail, "id", where="detail"),
            subject=text_field(detail, "subject", where="detail", required=False),
            messages=[
                Message(
                    author_role=AuthorRole.CUSTOMER,
                    body=body,
                    external_id=text_field(comment, "id", where="event.comment", required=False) or None,
                )
            ],
            requester_id=text_field(detail, "requester_id", where="detail", required=False) or None,
            tags=[str(t) for t in detail.get("tags") or []],
            priority=text_field(detail, "priority", where="detail", required=False).lower() or None,
        )
        return Normalised([Delivery(ticket, event_id)])

    def _trigger(
        self,
        payload: dict[str, Any],
        headers: Mapping[str, str],
        config: ConnectorConfig,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        body = html_to_text(text_field(payload, "latest_comment", where="body"))
        if is_ours(body, payload.get("author_id"), config):
            return Normalised.ignore("comment written by this service")
        tags = payload.get("tags") or ""
        # `{{ticket.tags}}` renders as one space-separated string.
        tag_list = tags.split() if isinstance(tags, str) else [str(t) for t in tags]
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=text_field(payload, "ticket_id", where="body"),
            subject=text_field(payload, "subject", where="body", required=False),
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=text_field(payload, "requester_id", where="body", required=False) or None,
            tags=tag_list,
            priority=text_field(payload, "priority", where="body", required=False) or None,
            group=text_field(payload, "group", where="body", required=False) or None,
        )
        # Trigger webhooks carry no event id in the body; the invocation id header is the next best
        # thing (whether Zendesk keeps it across its retries is unverified: a resent message is also
        # caught by the intake's message dedupe), else the body's hash.
        delivery_id = headers.get("x-zendesk-webhook-invocation-id") or body_fingerprint(raw_body)
        return Normalised([Delivery(ticket, delivery_id)])

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
`x-zendesk-webhook-invocation-id` ("Anatomy of a webhook request", verified). `ticket.status_changed`
and the deletion events record the ticket's state (solved or closed, deleted) for retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
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
    any_digest_matches,
    body_fingerprint,
    decode_base64,
    html_to_text,
    is_ours,
    parse_payload,
    require_secrets,
)
from service.webhooks.schemas import (
    ZendeskCommentAdded,
    ZendeskOtherEvent,
    ZendeskTicketCreated,
    ZendeskTicketState,
    ZendeskTrigger,
)

# Event types that change a ticket's life (Zendesk's ticket event types, verified for
# status_changed; the deletion types follow its "Ticket Soft/Permanently Deleted" events, unverified
# as webhook names). None: the state depends on the new status.
STATE_EVENTS: dict[str, str | None] = {
    "zen:event-type:ticket.status_changed": None,
    "zen:event-type:ticket.soft_deleted": DELETED,
    "zen:event-type:ticket.permanently_deleted": DELETED,
    "zen:event-type:ticket.undeleted": REOPENED,
}
# Solved tickets reopen on a reply and Zendesk closes them after a few days; both count as closed.
CLOSED_STATUSES = ("solved", "closed")


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
        try:
            age = abs((now - parse_timestamp(timestamp)).total_seconds())
        except OverflowError as exc:  # year 1 or 9999 with an offset leaves the calendar in UTC
            raise SignatureError("signature timestamp out of range") from exc
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
        if "triage_template" in payload:
            trigger = parse_payload(ZendeskTrigger, payload)
            return self._trigger(trigger, headers, config, tenant, raw_body)
        kind = parse_payload(ZendeskOtherEvent, payload).type
        if kind == "zen:event-type:ticket.created":
            return self._created(parse_payload(ZendeskTicketCreated, payload), config, tenant)
        if kind == "zen:event-type:ticket.comment_added":
            return self._comment_added(parse_payload(ZendeskCommentAdded, payload), config, tenant)
        if kind in STATE_EVENTS:
            return self._state(parse_payload(ZendeskTicketState, payload), tenant)
        return Normalised.ignore(f"event type {kind[:64]} is not triaged")

    def _state(self, event: ZendeskTicketState, tenant: str) -> Normalised:
        """Map a status change or a deletion to the ticket's state (retention purges those sooner)."""
        state = STATE_EVENTS[event.type]
        if state is None:  # a status change: solved and closed close it, any other status reopens it
            status = (event.detail.status or "").lower()
            if not status:
                return Normalised.ignore("status change without a status")
            state = CLOSED if status in CLOSED_STATUSES else REOPENED
        return Normalised(state=StateChange(tenant, event.detail.id, state, event.id))

    def _created(self, event: ZendeskTicketCreated, config: ConnectorConfig, tenant: str) -> Normalised:
        detail = event.detail
        body = html_to_text(detail.description)
        if is_ours(body, detail.requester_id, config):
            return Normalised.ignore("ticket created by this service")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=detail.id,
            subject=detail.subject or "",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=detail.requester_id or None,
            tags=detail.tags or [],
            # Event payloads spell priorities in capitals ("HIGH"); the API and triggers in lower case.
            priority=(detail.priority or "").lower() or None,
            group=detail.group_id or None,
        )
        return Normalised([Delivery(ticket, event.id)])

    def _comment_added(self, event: ZendeskCommentAdded, config: ConnectorConfig, tenant: str) -> Normalised:
        detail, comment = event.detail, event.event.comment
        body = html_to_text(comment.body)
        if is_ours(body, comment.author.id, config):
            return Normalised.ignore("comment written by this service")
        if comment.author.is_staff or comment.is_public is False:
            return Normalised.ignore("not a customer message")
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=detail.id,
            subject=detail.subject or "",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body, external_id=comment.id or None)],
            requester_id=detail.requester_id or None,
            tags=detail.tags or [],
            priority=(detail.priority or "").lower() or None,
        )
        return Normalised([Delivery(ticket, event.id)])

    def _trigger(
        self,
        trigger: ZendeskTrigger,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        body = html_to_text(trigger.latest_comment)
        if is_ours(body, trigger.author_id, config):
            return Normalised.ignore("comment written by this service")
        # `{{ticket.tags}}` renders as one space-separated string.
        tags = trigger.tags or []
        ticket = Ticket(
            tenant=tenant,
            source=self.name,
            external_id=trigger.ticket_id,
            subject=trigger.subject or "",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=trigger.requester_id or None,
            tags=tags.split() if isinstance(tags, str) else tags,
            priority=trigger.priority or None,
            group=trigger.group or None,
        )
        # Trigger webhooks carry no event id in the body, and the invocation id header is not signed:
        # a captured request replayed with a new header would pass as new. The signature covers the
        # timestamp and the body, so their hash is the delivery id: a replay inside the window is a
        # duplicate, and a Zendesk retry (signed anew) is caught by the intake's message dedupe.
        timestamp = headers.get("x-zendesk-webhook-signature-timestamp", "")
        return Normalised([Delivery(ticket, body_fingerprint(timestamp.encode() + b"\n" + raw_body))])

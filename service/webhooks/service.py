"""Webhook intake: verify, parse, normalise, then hand each ticket to the shared intake seam."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain import Message, Ticket
from service.tenants import ConnectorConfig
from service.text import mend_surrogates_deep
from service.tickets import service as tickets
from service.webhooks.base import Normalised, PayloadError, SignatureError, StateChange, WebhookVendor
from service.webhooks.schemas import WebhookAccepted, WebhookTicket

log = logging.getLogger(__name__)


def verify_and_normalise(
    vendor: WebhookVendor,
    raw_body: bytes,
    headers: Mapping[str, str],
    config: ConnectorConfig,
    *,
    tenant: str,
    now: datetime | None = None,
) -> Normalised:
    """Verify the raw bytes first, and only then parse them; raise SignatureError or PayloadError."""
    lowered = {k.lower(): v for k, v in headers.items()}
    # Nothing of the body is looked at before the signature holds: an attacker's JSON never reaches
    # the parser.
    try:
        vendor.verify(raw_body, lowered, config, now=now or datetime.now(UTC))
    except (ValueError, TypeError, OverflowError) as exc:
        # Headers are whatever an anonymous caller sent (non-ASCII bytes, 20-digit timestamps): a
        # verifier that trips on one has not proven anything, so the request is refused, never a 500.
        raise SignatureError(f"malformed signature headers ({type(exc).__name__})") from exc
    try:
        # `"\ud800"` parses to a string that UTF-8 cannot encode: stored or echoed, it was a 500.
        payload = mend_surrogates_deep(json.loads(raw_body))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(f"body: not valid JSON ({type(exc).__name__})") from exc
    return vendor.normalise(payload, lowered, config, tenant=tenant, raw_body=raw_body)


def fit_limits(ticket: Ticket, settings: Settings) -> Ticket:
    """Trim a helpdesk's ticket to the configured limits rather than refuse it.

    The helpdesk cannot shorten a customer's message, so a 422 would only make it retry the same
    bytes; the newest messages and the start of each body carry what triage needs.
    """
    messages = ticket.messages[-settings.max_messages :]
    limit = settings.max_message_chars
    if len(messages) == len(ticket.messages) and all(len(m.body) <= limit for m in messages):
        return ticket
    trimmed = [
        m if len(m.body) <= limit else Message(**{**m.model_dump(), "body": m.body[:limit]}) for m in messages
    ]
    return ticket.model_copy(update={"messages": trimmed})


PLAIN_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,128}")


def delivery_key(delivery_id: str) -> str:
    """Return the id to dedupe on: the sender's id if short printable ASCII, else its hash.

    Ids come from headers or signed bodies of any length and charset; the column holds 256
    characters and PostgreSQL refuses NUL, so anything unusual is stored as its digest instead.
    """
    if PLAIN_DELIVERY_ID.fullmatch(delivery_id):
        return delivery_id
    return "sha256:" + hashlib.sha256(delivery_id.encode("utf-8", "surrogatepass")).hexdigest()


def submit_all(
    sessions: sessionmaker[Session],
    settings: Settings,
    connector: str,
    outcome: Normalised,
    *,
    raw_body: bytes,
) -> WebhookAccepted:
    """Submit every ticket of a webhook through the intake seam, deduped on its delivery id.

    Raises DeliveryConflict when a known delivery id arrives with a different signed body.
    """
    if outcome.ignored is not None:
        return WebhookAccepted(status="ignored", reason=outcome.ignored)
    # Every vendor signs the raw body, so its hash ties the delivery id to what was signed.
    content_hash = hashlib.sha256(raw_body).hexdigest()
    if outcome.state is not None:
        return record_state(sessions, connector, outcome.state, content_hash=content_hash)
    stored = []
    for delivery in outcome.deliveries:
        result = tickets.submit(
            sessions,
            settings,
            fit_limits(delivery.ticket, settings),
            delivery=tickets.InboundDelivery(connector, delivery_key(delivery.delivery_id), content_hash),
        )
        stored.append(
            WebhookTicket(
                ticket_id=result.ticket_id,
                revision=result.revision,
                duplicate=result.duplicate,
                queued=result.queued,
            )
        )
    duplicate = bool(stored) and all(t.duplicate for t in stored)
    log.info("webhook %s: %d ticket(s), duplicate=%s", connector, len(stored), duplicate)
    return WebhookAccepted(
        status="duplicate" if duplicate else "accepted", duplicate=duplicate, tickets=stored
    )


def record_state(
    sessions: sessionmaker[Session], connector: str, change: StateChange, *, content_hash: str
) -> WebhookAccepted:
    """Record a ticket's new helpdesk state once per delivery id; a ticket never stored is ignored.

    Raises DeliveryConflict when a known delivery id arrives with a different signed body.
    """
    delivery = tickets.InboundDelivery(connector, delivery_key(change.delivery_id), content_hash)
    with sessions.begin() as session:
        if not tickets.record_delivery(session, tenant=change.tenant, delivery=delivery):
            return WebhookAccepted(status="duplicate", duplicate=True)
        ticket_id = tickets.set_helpdesk_state(
            session,
            tenant=change.tenant,
            source=change.source or connector,
            external_id=change.external_id,
            state=change.state,
            now=datetime.now(UTC),
        )
        if ticket_id is None:
            # Nothing to record it on (never stored, or erased); a retry is answered as a duplicate.
            return WebhookAccepted(status="ignored", reason="ticket not stored here")
        tickets.link_delivery(session, tenant=change.tenant, delivery=delivery, ticket_id=ticket_id)
    log.info("webhook %s: ticket %s", connector, change.state)
    return WebhookAccepted(status="accepted", tickets=[])

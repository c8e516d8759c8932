"""Standard Webhooks intake, for any system that can sign its events (spec v1.0.0, verified).

`webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (space-separated
`v1,<base64>`), signed as HMAC-SHA256 over `{id}.{timestamp}.{body}` with the key
`base64decode(secret without "whsec_")`. Several signatures may be sent and several secrets configured,
so keys rotate without downtime. The body is `{"type": "ticket.created" | "ticket.replied",
"data": <the generic ticket JSON of POST /v1/tickets>}`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from service.tenants import ConnectorConfig
from service.tickets.schemas import TicketIn
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
    hmac_digest,
    is_ours,
    parse_payload,
    require_secrets,
)
from service.webhooks.schemas import StandardEnvelope, StandardStateEvent

SECRET_PREFIX = "whsec_"
EVENTS = ("ticket.created", "ticket.replied")
# The sending system closed, deleted or reopened a ticket: `{"type": ..., "data": {"external_id"}}`.
STATE_EVENTS = {"ticket.closed": CLOSED, "ticket.deleted": DELETED, "ticket.reopened": REOPENED}
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def signing_key(secret: bytes) -> bytes:
    """Decode a `whsec_<base64>` secret into the HMAC key, as the reference libraries do."""
    text = secret.decode()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("configured secret is not whsec_<base64>") from exc
    if not key:
        raise SignatureError("configured secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the `v1,<base64>` signature of one message (used by tests and senders)."""
    key = signing_key(secret.encode())
    digest = hmac_digest(key, f"{msg_id}.{timestamp}.".encode() + body, "sha256")
    return "v1," + base64.b64encode(digest).decode()


class StandardWebhook(WebhookVendor):
    name = "standard"

    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        keys = [signing_key(s) for s in require_secrets(config)]
        msg_id = headers.get("webhook-id")
        timestamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not (msg_id and timestamp and signatures):
            raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
        # ASCII digits, at most 12 of them: str.isdigit() also passes "²" (int() then raises) and
        # 20 digits overflow datetime; both were 500s for an anonymous caller.
        if UNIX_SECONDS.fullmatch(timestamp) is None:
            raise SignatureError("webhook-timestamp is not unix seconds")
        if abs(now.timestamp() - int(timestamp)) > config.timestamp_tolerance_seconds:
            raise SignatureError("webhook-timestamp outside the allowed window")
        message = f"{msg_id}.{timestamp}.".encode() + raw_body
        expected = [hmac_digest(key, message, "sha256") for key in keys]
        matched = False
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != "v1":
                continue  # other versions (v1a asymmetric) are not configured here
            try:
                presented = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            for digest in expected:
                matched |= hmac.compare_digest(digest, presented)
        if not matched:
            raise SignatureError("no matching signature")

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
        # The type picks the body's shape, so it is read as the schemas type it (a string, or a number
        # read as one) before it is looked up: `{"type": {}}` was a TypeError, a 500.
        kind = parse_payload(StandardEnvelope, payload).type
        if kind in STATE_EVENTS:
            changed = parse_payload(StandardStateEvent, payload)
            ref = changed.data
            # Stored as intake stores it: the generic `api` source under this connector's name.
            source = self.name if ref.source == "api" else ref.source
            state = StateChange(
                tenant, ref.external_id, STATE_EVENTS[changed.type], headers["webhook-id"], source
            )
            return Normalised(state=state)
        if kind not in EVENTS:
            return Normalised.ignore(f"event type {kind[:64]} is not triaged")
        try:
            body = TicketIn.model_validate(payload.get("data"))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PayloadError(
                "data." + ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
            ) from exc
        if is_ours(body.messages[-1].body, None, config):
            return Normalised.ignore("message written by this service")
        ticket = body.to_ticket(tenant, source=self.name if body.source == "api" else None)
        return Normalised([Delivery(ticket, headers["webhook-id"])])

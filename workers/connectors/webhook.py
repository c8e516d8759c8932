"""The generic connector: `ticket.*` events to any receiver, signed per Standard Webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from workers.connectors.base import Connector, DeliveryResult, OutboundAction
from workers.connectors.http import post_once


class StandardWebhookConnector(Connector):
    """POST each action as an event; `webhook-id` is the action's idempotency key, so receivers dedupe."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0, allow_private: bool = False):
        if not secret:
            # An unsigned event could be forged by anyone who can reach the receiver.
            raise ValueError("the outbound webhook needs a signing secret")
        self.url = url
        self.timeout = timeout
        self.allow_private = allow_private
        self._signer = Webhook(secret)

    def deliver(self, action: OutboundAction) -> DeliveryResult:
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "type": action.kind,
                "timestamp": now.isoformat(),
                "data": {
                    "ticket_id": action.ticket_id,
                    "source": action.source,
                    "external_id": action.external_id,
                    **action.payload,
                },
            },
            separators=(",", ":"),
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": action.idempotency_key,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(action.idempotency_key, now, body),
            "user-agent": "triage-service",
        }
        return post_once(
            self.url, body.encode(), headers, timeout=self.timeout, allow_private=self.allow_private
        )

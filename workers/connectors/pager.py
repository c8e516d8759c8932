"""Page the on-call person for escalations the policy marks `page_on_call`, once per ticket.

Two formats: PagerDuty Events API v2 (`trigger` with a per-ticket `dedup_key`, so PagerDuty folds
repeats into one alert) and a generic Standard Webhooks event whose `webhook-id` is the same per-ticket
key. The outbox also plans at most one page per ticket, so a customer's every new reply does not
wake someone up again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session
from standardwebhooks.webhooks import Webhook

from service.config import Settings
from service.domain import ActionKind, PlannedAction
from service.storage.models import ActionRow, TicketRow
from service.tenants import DEFAULT_TENANT, Tenant
from workers.connectors.base import Connector, DeliveryResult, OutboundAction
from workers.connectors.http import post_once

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_SUMMARY_CHARS = 1024  # PagerDuty's limit on payload.summary


def dedup_key(tenant: str, ticket_id: str) -> str:
    """Return the key every page about one ticket shares."""
    return f"triage-{tenant}-{ticket_id}"


class PagerConnector(Connector):
    """Send a page for escalations that ask for one; every other action is not planned for it."""

    name = "pager"

    def __init__(
        self,
        url: str,
        *,
        format: str = "pagerduty",
        routing_key: str | None = None,
        secret: str | None = None,
        timeout: float = 15.0,
        allow_private: bool = False,
    ):
        if format == "pagerduty" and not routing_key:
            raise ValueError("the PagerDuty format needs a routing key")
        if format == "webhook" and not secret:
            # An unsigned page could be forged by anyone who can reach the receiver.
            raise ValueError("the webhook format needs a signing secret")
        if format not in ("pagerduty", "webhook"):
            raise ValueError(f"unknown pager format {format!r}")
        self.url = url
        self.format = format
        self.routing_key = routing_key
        self.timeout = timeout
        self.allow_private = allow_private
        self._signer = Webhook(secret) if format == "webhook" and secret else None

    def handles(self, planned: PlannedAction, ticket: TicketRow) -> bool:
        """Return whether to plan a page: an escalation asking for one, on a ticket not paged before."""
        if planned.kind != ActionKind.ESCALATED or not planned.params.get("page_on_call"):
            return False
        session = object_session(ticket)
        if session is None:
            return True
        earlier = session.scalars(
            select(ActionRow.id).where(ActionRow.ticket_id == ticket.id, ActionRow.connector == self.name)
        ).first()
        return earlier is None

    def event(self, action: OutboundAction) -> dict[str, Any]:
        """Return the event body; it names the ticket and the scores, never the customer's words."""
        triage = action.payload.get("triage") or {}
        params = action.payload.get("params") or {}
        urgency = (triage.get("urgency") or {}).get("level")
        frustration = (triage.get("frustration") or {}).get("level")
        summary = (
            f"Support ticket {action.source} #{action.external_id} escalated by rule "
            f"{action.payload.get('rule', '?')}: urgency {urgency or 'n/a'}, "
            f"frustration {frustration or 'n/a'}"
        )[:MAX_SUMMARY_CHARS]
        details = {
            "ticket_id": action.ticket_id,
            "tenant": action.tenant,
            "source": action.source,
            "external_id": action.external_id,
            "rule": action.payload.get("rule"),
            "reason": action.payload.get("reason"),
            "urgency": urgency,
            "frustration": frustration,
            "priority": params.get("priority"),
            "group": params.get("group"),
        }
        key = dedup_key(action.tenant, action.ticket_id)
        if self.format == "pagerduty":
            return {
                "routing_key": self.routing_key,
                "event_action": "trigger",
                "dedup_key": key,
                "client": "triage-service",
                "payload": {
                    "summary": summary,
                    "source": f"triage-service/{action.tenant}",
                    "severity": "critical" if urgency == "critical" else "error",
                    "component": action.source,
                    "group": action.tenant,
                    "class": "customer-support-escalation",
                    "custom_details": details,
                },
            }
        return {
            "type": "ticket.page",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"summary": summary, **details},
        }

    def deliver(self, action: OutboundAction) -> DeliveryResult:
        body = json.dumps(self.event(action), separators=(",", ":"))
        headers = {"content-type": "application/json", "user-agent": "triage-service"}
        if self._signer is not None:
            now = datetime.now(UTC)
            key = dedup_key(action.tenant, action.ticket_id)
            headers |= {
                "webhook-id": key,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(key, now, body),
            }
        result = post_once(
            self.url, body.encode(), headers, timeout=self.timeout, allow_private=self.allow_private
        )
        if self.format == "pagerduty" and result.status_code == 400:
            # PagerDuty rejects a malformed event or a bad routing key for good; retrying cannot help.
            return DeliveryResult(ok=False, status_code=400, error="HTTP 400 (event refused)", permanent=True)
        return result


def build_pager(tenant: Tenant, settings: Settings) -> dict[str, Connector]:
    """Return the tenant's pager: its `pager` connector entry, else the settings (default tenant only)."""
    config = tenant.connectors.get("pager")
    extra: dict[str, Any] = dict(config.model_extra or {}) if config is not None else {}
    if config is not None and config.base_url:
        url: str | None = config.base_url
        fmt = str(extra.get("format", "pagerduty"))
        routing_key = config.credentials.get("routing_key")
        secret = config.secret or config.credentials.get("secret")
        key_value = routing_key.get_secret_value() if routing_key else None
        secret_value = secret.get_secret_value() if secret else None
    elif tenant.name == DEFAULT_TENANT and settings.pager_url:
        url, fmt = settings.pager_url, settings.pager_format
        key_value = settings.pager_routing_key.get_secret_value() if settings.pager_routing_key else None
        secret_value = settings.pager_secret.get_secret_value() if settings.pager_secret else None
    else:
        return {}
    assert url is not None
    pager = PagerConnector(
        url,
        format=fmt,
        routing_key=key_value,
        secret=secret_value,
        timeout=settings.outbound_timeout_seconds,
        allow_private=settings.outbound_allow_private,
    )
    return {pager.name: pager}

"""Build the connectors a tenant has configured."""

from __future__ import annotations

from service.config import Settings
from service.tenants import Tenant
from workers.connectors.base import Connector
from workers.connectors.webhook import StandardWebhookConnector


def build_connectors(tenant: Tenant, settings: Settings) -> dict[str, Connector]:
    """Return the tenant's outbound connectors by name."""
    connectors: dict[str, Connector] = {}
    if tenant.outbound_webhook_url:
        secret = tenant.outbound_webhook_secret
        connectors[StandardWebhookConnector.name] = StandardWebhookConnector(
            tenant.outbound_webhook_url,
            secret.get_secret_value() if secret else "",
            timeout=settings.outbound_timeout_seconds,
            allow_private=settings.outbound_allow_private,
        )
    return connectors

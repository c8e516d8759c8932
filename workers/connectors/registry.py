"""Build the connectors a tenant has configured: the signed outbound webhook and its helpdesks."""

from __future__ import annotations

import logging

from service.config import Settings
from service.tenants import Tenant
from workers.connectors.base import Connector
from workers.connectors.freshdesk import FreshdeskConnector
from workers.connectors.helpdesk import HelpdeskConnector
from workers.connectors.helpscout import HelpScoutConnector
from workers.connectors.intercom import IntercomConnector
from workers.connectors.pager import build_pager
from workers.connectors.ratelimit import RateLimiter, limiter_for
from workers.connectors.webhook import StandardWebhookConnector
from workers.connectors.zammad import ZammadConnector
from workers.connectors.zendesk import ZendeskConnector

log = logging.getLogger(__name__)

HELPDESKS: dict[str, type[HelpdeskConnector]] = {
    cls.name: cls
    for cls in (ZendeskConnector, FreshdeskConnector, ZammadConnector, HelpScoutConnector, IntercomConnector)
}


def build_connectors(
    tenant: Tenant, settings: Settings, *, limiter: RateLimiter | None = None
) -> dict[str, Connector]:
    """Return the tenant's outbound connectors by name; helpdesks share one Redis rate limiter."""
    connectors: dict[str, Connector] = {}
    if tenant.outbound_webhook_url:
        secret = tenant.outbound_webhook_secret
        connectors[StandardWebhookConnector.name] = StandardWebhookConnector(
            tenant.outbound_webhook_url,
            secret.get_secret_value() if secret else "",
            timeout=settings.outbound_timeout_seconds,
            allow_private=settings.outbound_allow_private,
        )
    for name, config in tenant.connectors.items():
        cls = HELPDESKS.get(name)
        # Inbound-only configurations (a secret, no API credentials) write nothing back.
        if cls is None or not config.credentials:
            continue
        try:
            connectors[name] = cls(
                tenant=tenant.name,
                config=config,
                public_url=settings.public_url,
                timeout=settings.outbound_timeout_seconds,
                allow_private=settings.outbound_allow_private,
                limiter=limiter if limiter is not None else limiter_for(settings.redis_url),
            )
        except ValueError as exc:
            log.error("tenant %s: connector %s not built: %s", tenant.name, name, exc)
    try:
        connectors.update(build_pager(tenant, settings))
    except ValueError as exc:
        log.error("tenant %s: pager not built: %s", tenant.name, exc)
    return connectors

"""Inbound helpdesk webhooks: one plug-in per vendor behind `WebhookVendor`."""

from __future__ import annotations

from service.webhooks.base import WebhookVendor
from service.webhooks.freshdesk import FreshdeskWebhook
from service.webhooks.helpscout import HelpScoutWebhook
from service.webhooks.intercom import IntercomWebhook
from service.webhooks.standard import StandardWebhook
from service.webhooks.zammad import ZammadWebhook
from service.webhooks.zendesk import ZendeskWebhook

VENDORS: dict[str, WebhookVendor] = {
    vendor.name: vendor
    for vendor in (
        ZendeskWebhook(),
        FreshdeskWebhook(),
        ZammadWebhook(),
        HelpScoutWebhook(),
        IntercomWebhook(),
        StandardWebhook(),
    )
}

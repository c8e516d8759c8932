"""Inbound helpdesk webhooks: one plug-in per vendor behind `WebhookVendor`."""

from __future__ import annotations

from pydantic import BaseModel

from service.webhooks.base import WebhookVendor
from service.webhooks.freshdesk import FreshdeskWebhook
from service.webhooks.helpscout import HelpScoutWebhook
from service.webhooks.intercom import IntercomWebhook
from service.webhooks.schemas import (
    FreshdeskRule,
    FreshdeskStateRule,
    HelpScoutConversation,
    IntercomNotification,
    IntercomStateNotification,
    StandardEvent,
    StandardStateEvent,
    ZammadTrigger,
    ZendeskCommentAdded,
    ZendeskTicketCreated,
    ZendeskTicketState,
    ZendeskTrigger,
)
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

# The request bodies each vendor's webhook route documents in OpenAPI.
VENDOR_BODIES: dict[str, list[type[BaseModel]]] = {
    "zendesk": [ZendeskTicketCreated, ZendeskCommentAdded, ZendeskTrigger, ZendeskTicketState],
    "freshdesk": [FreshdeskRule, FreshdeskStateRule],
    "zammad": [ZammadTrigger],
    "helpscout": [HelpScoutConversation],
    "intercom": [IntercomNotification, IntercomStateNotification],
    "standard": [StandardEvent, StandardStateEvent],
}

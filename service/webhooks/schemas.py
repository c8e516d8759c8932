"""Response bodies of the webhook intake."""

from __future__ import annotations

from pydantic import BaseModel


class WebhookTicket(BaseModel):
    ticket_id: str
    revision: int
    duplicate: bool
    queued: bool


class WebhookAccepted(BaseModel):
    """What a helpdesk gets back: 202 with the tickets stored, or 200 when the event was ignored."""

    status: str  # accepted | duplicate | ignored
    duplicate: bool = False
    reason: str | None = None
    tickets: list[WebhookTicket] = []

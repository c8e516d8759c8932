"""Zammad write-back through REST API v1.

Calls (Zammad REST API docs; verified for articles and tags, priority names are the defaults
"1 low", "2 normal", "3 high" and can be renamed by the admin, hence `priority_map`):
- `PUT /api/v1/tickets/{id}` `{"priority": "3 high", "group": "<name>"}`.
- `POST /api/v1/tags/add` `{"item", "object": "Ticket", "o_id"}` per tag (adding a present tag is a
  no-op).
- `GET /api/v1/ticket_articles/by_ticket/{id}`: read-before-write.
- `POST /api/v1/ticket_articles` `{"ticket_id", "body", "content_type": "text/plain", "type": "note",
  "internal": true}`. With drafts allowed out, the note is made public (visible in the customer
  portal; Zammad sends no e-mail for a note).
Auth: `Authorization: Token token=<token>`.
"""

from __future__ import annotations

import httpx

from service.domain import ActionKind
from workers.connectors.base import OutboundAction
from workers.connectors.helpdesk import HelpdeskConnector, api_path


class ZammadConnector(HelpdeskConnector):
    name = "zammad"
    default_priority_map = {
        "low": "1 low",
        "normal": "2 normal",
        "high": "3 high",
        "critical": "3 high",
        "urgent": "3 high",
    }
    default_rate_limit_per_minute = 120

    def auth_headers(self, client: httpx.Client) -> dict[str, str]:
        return {"authorization": f"Token token={self.config.credential('token') or ''}"}

    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        ticket_id = action.external_id
        if action.kind == ActionKind.ESCALATED:
            update: dict[str, object] = {}
            if (priority := self.mapped_priority(action)) is not None:
                update["priority"] = str(priority)
            if (group := self.mapped_group(action)) is not None:
                update["group"] = str(group)
            if update:
                self.call(client, "PUT", api_path("/api/v1/tickets", ticket_id), json=update)
            for tag in self.escalation_tags(action):
                self.call(
                    client,
                    "POST",
                    "/api/v1/tags/add",
                    json={"item": tag, "object": "Ticket", "o_id": int(ticket_id)},
                )
            return
        articles = self.call(client, "GET", api_path("/api/v1/ticket_articles/by_ticket", ticket_id)).json()
        if self.already_written(action, [str(a.get("body", "")) for a in articles or []]):
            return
        self.call(
            client,
            "POST",
            "/api/v1/ticket_articles",
            json={
                "ticket_id": int(ticket_id),
                "body": self.body_text(action),
                "content_type": "text/plain",
                "type": "note",
                "internal": not self.sends_to_customer(action),
            },
        )

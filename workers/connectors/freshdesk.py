"""Freshdesk write-back through API v2.

Calls (Freshdesk API v2 reference; paths verified, priority numbers verified 1 low .. 4 urgent):
- `PUT /api/v2/tickets/{id}` `{"priority", "group_id", "tags"}`; `tags` replaces, so we send the
  union with the tags read by `GET /api/v2/tickets/{id}`.
- `GET /api/v2/tickets/{id}/conversations`: replies and notes, read before writing.
- `POST /api/v2/tickets/{id}/notes` `{"body": html, "private": true}`; a public reply only through
  `POST /api/v2/tickets/{id}/reply` when the tenant and the policy allow it.
Auth: the API key as the basic-auth user with any password ("X"). Freshdesk answers 429 with
`Retry-After` (verified); per-plan budgets vary, so `rate_limit_per_minute` defaults low.
"""

from __future__ import annotations

import httpx

from service.domain import ActionKind
from workers.connectors.base import OutboundAction
from workers.connectors.helpdesk import HelpdeskConnector, api_path, as_html

TICKETS = "/api/v2/tickets"


class FreshdeskConnector(HelpdeskConnector):
    name = "freshdesk"
    default_priority_map = {"low": 1, "normal": 2, "high": 3, "critical": 4, "urgent": 4}
    default_rate_limit_per_minute = 50

    def auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.config.credential("api_key") or "", "X")

    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        ticket_id = action.external_id
        if action.kind == ActionKind.ESCALATED:
            update: dict[str, object] = {}
            if (priority := self.mapped_priority(action)) is not None:
                update["priority"] = int(priority)
            group = self.mapped_group(action)
            if group is not None and str(group).isdigit():
                update["group_id"] = int(group)
            if tags := self.escalation_tags(action):
                current = self.call(client, "GET", api_path(TICKETS, ticket_id)).json()
                existing = [str(t) for t in current.get("tags") or []]
                update["tags"] = existing + [t for t in tags if t not in existing]
            if update:
                self.call(client, "PUT", api_path(TICKETS, ticket_id), json=update)
            return
        conversations = self.call(client, "GET", api_path(TICKETS, ticket_id, "conversations")).json()
        bodies = [str(c.get("body", "")) + str(c.get("body_text", "")) for c in conversations or []]
        if self.already_written(action, bodies):
            return
        body = as_html(self.body_text(action))
        if self.sends_to_customer(action):
            self.call(client, "POST", api_path(TICKETS, ticket_id, "reply"), json={"body": body})
        else:
            self.call(
                client, "POST", api_path(TICKETS, ticket_id, "notes"), json={"body": body, "private": True}
            )

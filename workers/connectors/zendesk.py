"""Zendesk Support write-back through the Tickets API.

Calls (Zendesk API reference; verified unless noted):
- `PUT /api/v2/tickets/{id}.json` with `{"ticket": {"comment": {"body", "public": false}}}` for the
  internal note (or draft), and `{"ticket": {"priority", "group_id"}}` for an escalation. Priorities:
  low, normal, high, urgent.
- `PUT /api/v2/tickets/{id}/tags.json` `{"tags": [...]}`: "Add Tags", keeps existing tags (the plain
  ticket update would replace them; developer.zendesk.com "Adding tags to tickets without overwriting").
- `GET /api/v2/tickets/{id}/comments.json?sort_order=desc`: read-before-write for the marker.
Auth: API token as basic `{email}/token:{api_token}`. Rate limit: Update Ticket is budgeted per
account (about 100/min is unverified); set `rate_limit_per_minute` to the plan's figure.
"""

from __future__ import annotations

import httpx

from service.domain import ActionKind
from workers.connectors.base import OutboundAction
from workers.connectors.helpdesk import HelpdeskConnector, api_path

TICKETS = "/api/v2/tickets"


class ZendeskConnector(HelpdeskConnector):
    name = "zendesk"
    default_priority_map = {
        "low": "low",
        "normal": "normal",
        "high": "high",
        "critical": "urgent",
        "urgent": "urgent",
    }
    default_rate_limit_per_minute = 100

    def auth(self) -> httpx.Auth:
        email = self.config.credential("email") or ""
        token = self.config.credential("api_token") or ""
        return httpx.BasicAuth(f"{email}/token", token)

    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        ticket_id = action.external_id
        if action.kind == ActionKind.ESCALATED:
            # Setting fields to a value and adding tags are idempotent: a retry repeats them harmlessly.
            if tags := self.escalation_tags(action):
                self.call(client, "PUT", api_path(TICKETS, ticket_id, "tags.json"), json={"tags": tags})
            fields: dict[str, object] = {}
            if (priority := self.mapped_priority(action)) is not None:
                fields["priority"] = priority
            group = self.mapped_group(action)
            if group is not None and str(group).isdigit():
                fields["group_id"] = int(group)  # Zendesk wants the id: map names in `group_map`
            if fields:
                self.call(
                    client, "PUT", api_path(TICKETS, ticket_id, suffix=".json"), json={"ticket": fields}
                )
            return
        comments = self.call(
            client, "GET", api_path(TICKETS, ticket_id, "comments.json"), params={"sort_order": "desc"}
        ).json()
        bodies = [str(c.get("body", "")) for c in comments.get("comments") or []]
        if self.already_written(action, bodies):
            return
        comment = {"body": self.body_text(action), "public": self.sends_to_customer(action)}
        self.call(
            client, "PUT", api_path(TICKETS, ticket_id, suffix=".json"), json={"ticket": {"comment": comment}}
        )

"""Intercom write-back through the REST API.

Calls (developers.intercom.com REST API; verified: reply with `message_type: "note"`, `type: "admin"`,
`admin_id`, `body`. Tagging takes a tag id, so tags are created or found by name first; the
`{"id", "admin_id"}` body is documented for tickets and assumed the same for conversations,
unverified):
- `GET /conversations/{id}`: its parts, read before writing.
- `POST /tags` `{"name"}` (creates or returns the tag), then `POST /conversations/{id}/tags`
  `{"id", "admin_id"}`. Intercom has no priority scale we map to; escalations add a `priority-<level>`
  tag (mark the conversation as priority by a workflow on that tag if wanted).
- `POST /conversations/{id}/reply` with `message_type: "note"`, or `"comment"` only when the tenant
  and the policy allow drafts out.
Auth: `Authorization: Bearer <access token>`, `Intercom-Version` pinned (2.11 by default).
"""

from __future__ import annotations

import httpx

from service.domain import ActionKind
from workers.connectors.base import OutboundAction
from workers.connectors.helpdesk import DIGIT_STRING, HelpdeskConnector, api_path, as_html


class IntercomConnector(HelpdeskConnector):
    name = "intercom"
    default_base_url = "https://api.intercom.io"
    default_priority_map = {
        "high": "priority-high",
        "critical": "priority-urgent",
        "urgent": "priority-urgent",
    }
    default_rate_limit_per_minute = 500
    # Conversation ids are digit strings, too long for some clients' integers, so kept as text.
    external_id_format = DIGIT_STRING

    def auth_headers(self, client: httpx.Client) -> dict[str, str]:
        version = str(getattr(self.config, "api_version", None) or "2.11")
        return {
            "authorization": f"Bearer {self.config.credential('access_token') or ''}",
            "intercom-version": version,
        }

    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        conversation_id = action.external_id
        admin_id = self.config.credential("admin_id") or ""
        if action.kind == ActionKind.ESCALATED:
            wanted = self.escalation_tags(action)
            if (priority_tag := self.mapped_priority(action)) is not None:
                wanted.append(str(priority_tag))
            for name in wanted:
                tag = self.call(client, "POST", "/tags", json={"name": name}).json()
                self.call(
                    client,
                    "POST",
                    api_path("/conversations", conversation_id, "tags"),
                    json={"id": str(tag["id"]), "admin_id": admin_id},
                )
            return
        conversation = self.call(client, "GET", api_path("/conversations", conversation_id)).json()
        parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
        if self.already_written(action, [str(p.get("body") or "") for p in parts]):
            return
        self.call(
            client,
            "POST",
            api_path("/conversations", conversation_id, "reply"),
            json={
                "message_type": "comment" if self.sends_to_customer(action) else "note",
                "type": "admin",
                "admin_id": admin_id,
                "body": as_html(self.body_text(action)),
            },
        )

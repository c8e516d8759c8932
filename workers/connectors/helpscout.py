"""Help Scout write-back through the Mailbox API 2.0.

Calls (developer.helpscout.com/mailbox-api, verified: "Create Note" `POST .../notes` with `text`,
"Create Reply Thread" with `draft: true`, "Update Tags" `PUT .../tags` replacing the whole list):
- `GET /v2/conversations/{id}`: the primary customer (a reply needs it) and the current tags.
- `PUT /v2/conversations/{id}/tags` `{"tags": [...]}` with the union, since it replaces all tags.
  Help Scout has no priority field, so escalations add a `priority-<level>` tag.
- `GET /v2/conversations/{id}/threads`: read-before-write.
- `POST /v2/conversations/{id}/notes` `{"text"}` for notes; the draft reply through
  `POST /v2/conversations/{id}/reply` `{"customer": {"id"}, "text", "draft": true}` (an agent sends it).
Auth: OAuth2 client credentials (`POST /v2/oauth2/token`) or a configured `access_token`.
"""

from __future__ import annotations

import time

import httpx

from service.domain import ActionKind
from workers.connectors.base import DeliveryResult, OutboundAction
from workers.connectors.helpdesk import HelpdeskConnector, HelpdeskFailure, api_path, as_html

CONVERSATIONS = "/v2/conversations"


class HelpScoutConnector(HelpdeskConnector):
    name = "helpscout"
    default_base_url = "https://api.helpscout.net"
    default_priority_map = {
        "high": "priority-high",
        "critical": "priority-urgent",
        "urgent": "priority-urgent",
    }
    default_rate_limit_per_minute = 200

    def __init__(self, **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._token: tuple[str, float] | None = None

    def auth_headers(self, client: httpx.Client) -> dict[str, str]:
        static = self.config.credential("access_token")
        if static:
            return {"authorization": f"Bearer {static}"}
        if self._token is None or self._token[1] < time.monotonic():
            response = self.call(
                client,
                "POST",
                "/v2/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config.credential("app_id") or "",
                    "client_secret": self.config.credential("app_secret") or "",
                },
            )
            body = response.json()
            # Renew a minute early so a token never expires between the check and the call.
            self._token = (
                str(body["access_token"]),
                time.monotonic() + float(body.get("expires_in", 3600)) - 60,
            )
        return {"authorization": f"Bearer {self._token[0]}"}

    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        conversation_id = action.external_id
        conversation = self.call(client, "GET", api_path(CONVERSATIONS, conversation_id)).json()
        if action.kind == ActionKind.ESCALATED:
            wanted = self.escalation_tags(action)
            if (priority_tag := self.mapped_priority(action)) is not None:
                wanted.append(str(priority_tag))
            existing = [str(t.get("tag")) for t in conversation.get("tags") or [] if isinstance(t, dict)]
            missing = [t for t in wanted if t not in existing]
            if missing:
                self.call(
                    client,
                    "PUT",
                    api_path(CONVERSATIONS, conversation_id, "tags"),
                    json={"tags": existing + missing},
                )
            return
        threads = self.call(client, "GET", api_path(CONVERSATIONS, conversation_id, "threads")).json()
        bodies = [str(t.get("body", "")) for t in (threads.get("_embedded") or {}).get("threads") or []]
        if action.kind == ActionKind.REPLY_DRAFTED:
            # A draft is an agent's reply in waiting: no marker in it (the customer would get it), so
            # an earlier try is recognised by the draft's own text.
            draft = str(action.payload.get("draft", ""))
            if any(as_html(draft) in b or draft in b for b in bodies):
                return
            customer = (conversation.get("primaryCustomer") or {}).get("id")
            if customer is None:
                raise HelpdeskFailure(self._permanent("conversation has no primary customer to reply to"))
            self.call(
                client,
                "POST",
                api_path(CONVERSATIONS, conversation_id, "reply"),
                json={
                    "customer": {"id": customer},
                    "text": as_html(draft),
                    "draft": not self.sends_to_customer(action),
                },
            )
            return
        if self.already_written(action, bodies):
            return
        self.call(
            client,
            "POST",
            api_path(CONVERSATIONS, conversation_id, "notes"),
            json={"text": as_html(self.body_text(action))},
        )

    @staticmethod
    def _permanent(error: str) -> DeliveryResult:
        return DeliveryResult(ok=False, error=error, permanent=True)

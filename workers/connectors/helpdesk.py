"""What every helpdesk write-back shares: the HTTP call discipline, the note text, idempotency.

Idempotency: none of the five helpdesk APIs takes an idempotency key on the calls we make, so each
internal note ends with `triage-service ref <idempotency key>` and a connector reads the ticket's
notes before posting (read-before-write): a retry after a lost response finds its note and does not
post a second one. Priority, tag and group updates are set-to-a-value operations (tags are added as
a union), so repeating them changes nothing. Public replies carry no marker (the customer would see
it); they are matched on their exact text instead.
"""

from __future__ import annotations

import html
import logging
import re
import time
from abc import abstractmethod
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from service.domain import ActionKind
from service.tenants import ConnectorConfig
from service.webhooks.base import BOT_MARKER
from workers.connectors.base import Connector, DeliveryResult, OutboundAction
from workers.connectors.http import URLRefused, pinned_client, result_from_error, result_from_response
from workers.connectors.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# 4xx answers that retrying cannot fix (a deleted ticket, a body the API rejects) go straight to the
# dead-letter state; 401/403 stay retryable so fixing the credentials lets the outbox catch up.
RETRYABLE_4XX = {401, 403, 408, 409, 425, 429}
# A wait longer than this is handed back to the outbox rather than slept in the worker.
MAX_LOCAL_WAIT_SECONDS = 2.0
DEFAULT_RATE_WINDOW_SECONDS = 60.0
# Vendor id formats, ASCII digits only (`\\d` would also match other scripts' digits).
POSITIVE_INTEGER = re.compile(r"[1-9][0-9]{0,18}")
DIGIT_STRING = re.compile(r"[0-9]{1,32}")


class HelpdeskFailure(Exception):
    """Stop this delivery with `result` (an HTTP error, or the shared budget is spent)."""

    def __init__(self, result: DeliveryResult):
        super().__init__(result.error)
        self.result = result


def marker(action: OutboundAction) -> str:
    return f"{BOT_MARKER} {action.idempotency_key}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def note_text(action: OutboundAction, public_url: str) -> str:
    """Return the internal note for an action: scores, levels, evidence, reasons, model, assist link."""
    payload = action.payload
    triage: dict[str, Any] = payload.get("triage") or {}
    lines: list[str] = []
    if action.kind == ActionKind.ESCALATED:
        lines.append(f"Escalated by triage (rule {payload.get('rule', '?')}): {payload.get('reason', '')}")
        params = payload.get("params") or {}
        applied = [f"priority {params['priority']}"] if params.get("priority") else []
        applied += [f"tags {', '.join(params['tags'])}"] if params.get("tags") else []
        applied += [f"group {params['group']}"] if params.get("group") else []
        if applied:
            lines.append("Applied: " + "; ".join(applied))
    elif action.kind == ActionKind.REPLY_DRAFTED:
        lines.append("Suggested reply (a draft for an agent to review; not sent to the customer):")
        lines.append("")
        lines.append(str(payload.get("draft", "")))
    else:
        lines.append(f"Triage: {payload.get('reason', '')}")
    frustration = triage.get("frustration") or {}
    urgency = triage.get("urgency") or {}
    if action.kind != ActionKind.REPLY_DRAFTED:
        if not triage.get("supported", True):
            lines.append(f"Language {triage.get('language') or 'unknown'} is not supported: not scored.")
        if frustration:
            lines.append(
                f"Frustration: {frustration.get('level')} (p={_pct(frustration.get('probability'))})"
            )
        if urgency:
            lines.append(f"Urgency: {urgency.get('level')} (p={_pct(urgency.get('probability'))})")
        evidence = [e for e in (frustration.get("evidence") or []) + (urgency.get("evidence") or [])]
        seen: set[str] = set()
        for item in evidence:
            text = str(item.get("text", "")).strip()
            if text and text not in seen and len(seen) < 3:
                seen.add(text)
                lines.append(f'Evidence: "{text}"')
        if triage.get("reason_codes"):
            lines.append("Reason codes: " + ", ".join(triage["reason_codes"]))
    lines.append(f"Model: {triage.get('model_version', 'unknown')}")
    lines.append(f"Assist view: {public_url.rstrip('/')}/assist/{action.ticket_id}")
    lines.append(marker(action))
    return "\n".join(lines)


def api_path(prefix: str, *segments: str, suffix: str = "") -> str:
    """Return `prefix` and each segment percent-quoted whole, so an id can never become more path.

    `prefix` and `suffix` are constants from the connector; only `segments` may come from a ticket.
    `quote` leaves dots alone, so `.` and `..` are refused here rather than left for a server to
    resolve.

    Raises:
        URLRefused: a segment is empty, `.` or `..`.
    """
    quoted = []
    for segment in segments:
        if segment in ("", ".", ".."):
            raise URLRefused("empty or dot path segment")
        quoted.append(quote(segment, safe=""))
    return "/".join([prefix.rstrip("/"), *quoted]) + suffix


def as_html(text: str) -> str:
    """Render plain note text as the simple HTML that Freshdesk, Help Scout and Intercom store."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))


class HelpdeskConnector(Connector):
    """A helpdesk's API write-back; subclasses say which calls carry out an action."""

    name: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    default_priority_map: ClassVar[dict[str, str | int]] = {}
    # Conservative budgets per account per minute; tenants set `rate_limit_per_minute` to their plan's.
    default_rate_limit_per_minute: ClassVar[int] = 60
    # The vendor's ticket or conversation id; intake checks it too, but rows stored before that check
    # (or written by hand) reach here, and the id goes into a URL sent with the bot's credentials.
    external_id_format: ClassVar[re.Pattern[str]] = POSITIVE_INTEGER

    def __init__(
        self,
        *,
        tenant: str,
        config: ConnectorConfig,
        public_url: str,
        timeout: float = 15.0,
        allow_private: bool = False,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        base_url = config.base_url or self.default_base_url
        if not base_url:
            raise ValueError(f"connectors.{self.name}.base_url is required")
        self.tenant = tenant
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.public_url = public_url
        self.timeout = timeout
        self.allow_private = allow_private
        self.limiter = limiter
        self.transport = transport
        self.rate_limit = config.rate_limit_per_minute or self.default_rate_limit_per_minute
        self.priority_map = {**self.default_priority_map, **config.priority_map}

    def accepts(self, source: str) -> bool:
        """Act only on tickets that came from this helpdesk."""
        return source == self.name

    @property
    def rate_key(self) -> str:
        return f"{self.tenant}:{self.name}"

    def auth(self) -> httpx.Auth | None:
        """Return basic auth for the API, if this vendor uses it."""
        return None

    def auth_headers(self, client: httpx.Client) -> dict[str, str]:
        """Return the headers that authenticate every API call (never logged)."""
        return {}

    @abstractmethod
    def perform(self, client: httpx.Client, action: OutboundAction) -> None:
        """Carry out the action's calls, reading before writing so a retry posts nothing twice."""

    def deliver(self, action: OutboundAction) -> DeliveryResult:
        if not self.external_id_format.fullmatch(action.external_id):
            # Refused before any client exists: no request is sent, and retrying cannot fix the id.
            log.warning("%s write-back for action %s refused: malformed external id", self.name, action.id)
            return DeliveryResult(ok=False, error=f"external id is not a {self.name} id", permanent=True)
        try:
            # Only to the address the SSRF check approved, no redirects: the API cannot bounce us inside.
            with pinned_client(
                allow_private=self.allow_private,
                timeout=self.timeout,
                transport=self.transport,
                base_url=self.base_url,
                auth=self.auth(),
                headers={"user-agent": "triage-service", "accept": "application/json"},
            ) as client:
                client.headers.update(self.auth_headers(client))
                self.perform(client, action)
        except HelpdeskFailure as failure:
            log.info("%s write-back for action %s failed: %s", self.name, action.id, failure.result.error)
            return failure.result
        except Exception as exc:
            # Only the exception's type: a message could echo a URL with credentials or ticket text.
            log.info("%s write-back for action %s failed: %s", self.name, action.id, type(exc).__name__)
            return result_from_error(exc)
        return DeliveryResult(ok=True, status_code=200)

    def call(
        self,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Make one API call inside the shared budget; raise HelpdeskFailure on anything but 2xx."""
        if self.limiter is not None:
            wait = self.limiter.acquire(
                self.rate_key, limit=self.rate_limit, window_seconds=DEFAULT_RATE_WINDOW_SECONDS
            )
            if wait > MAX_LOCAL_WAIT_SECONDS:
                raise HelpdeskFailure(
                    DeliveryResult(
                        ok=False, retry_after=wait, rate_limited=True, error="account rate limit reached"
                    )
                )
            if wait > 0:
                time.sleep(wait)
        response = client.request(method, path, json=json, params=params, data=data)
        if 200 <= response.status_code < 300:
            return response
        result = result_from_response(response)
        if response.status_code == 429 and self.limiter is not None:
            # Tell every worker: the account is out of budget until the vendor says otherwise.
            self.limiter.block(self.rate_key, result.retry_after or DEFAULT_RATE_WINDOW_SECONDS)
        if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX:
            result = DeliveryResult(
                ok=False, status_code=result.status_code, error=result.error, permanent=True
            )
        raise HelpdeskFailure(result)

    # Helpers the vendors share

    def mapped_priority(self, action: OutboundAction) -> str | int | None:
        """Return the helpdesk's priority for an escalation: the policy's level, else the urgency level."""
        params = action.payload.get("params") or {}
        level = params.get("priority") or ((action.payload.get("triage") or {}).get("urgency") or {}).get(
            "level"
        )
        return self.priority_map.get(str(level)) if level else None

    def mapped_group(self, action: OutboundAction) -> str | int | None:
        group = (action.payload.get("params") or {}).get("group")
        return self.config.group_map.get(group, group) if group else None

    def escalation_tags(self, action: OutboundAction) -> list[str]:
        return [str(t) for t in (action.payload.get("params") or {}).get("tags") or []]

    def sends_to_customer(self, action: OutboundAction) -> bool:
        """Return whether a draft goes to the customer: only if the tenant AND the policy allow it."""
        params = action.payload.get("params") or {}
        return (
            action.kind == ActionKind.REPLY_DRAFTED
            and self.config.allow_send_drafts
            and params.get("send_to_customer") is True
        )

    def already_written(self, action: OutboundAction, bodies: list[str]) -> bool:
        """Return whether an earlier try already wrote this action (its marker, or its exact reply)."""
        if self.sends_to_customer(action):
            draft = str(action.payload.get("draft", "")).strip()
            return bool(draft) and any(draft in html.unescape(b) for b in bodies)
        return any(marker(action) in b for b in bodies)

    def body_text(self, action: OutboundAction) -> str:
        """Return what to post: the draft alone for a customer reply, the full note otherwise."""
        if self.sends_to_customer(action):
            return str(action.payload.get("draft", ""))
        return note_text(action, self.public_url)

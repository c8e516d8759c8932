"""The inbound seam: one small base class every helpdesk's webhook plug-in implements.

A plug-in checks the signature on the raw bytes (`verify`), then turns the parsed payload into
canonical tickets with the delivery id to dedupe on (`normalise`), or says why the event is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from service.domain import Ticket
from service.tenants import ConnectorConfig
from service.webhooks.schemas import payload_error

# Every note the outbound connectors write ends with this marker and the action's idempotency key.
# Intake ignores events that carry it (our own notes coming back), and the connectors look for it
# before writing again (read-before-write), so both sides agree on one string.
BOT_MARKER = "triage-service ref"


class SignatureError(Exception):
    """The request is not proven to come from the helpdesk: answer 401."""


class PayloadError(ValueError):
    """The payload is signed but cannot be understood: answer 422, naming the field."""


@dataclass(frozen=True)
class Delivery:
    """One ticket (or reply) taken from a webhook, with the id that makes a redelivery a duplicate."""

    ticket: Ticket
    delivery_id: str


# What a helpdesk can say about a ticket's life: closed (solved, resolved, spam, merged) or deleted
# tickets have their text purged sooner (service/lifecycle/retention.py); reopened clears the state.
CLOSED = "closed"
DELETED = "deleted"
REOPENED = "reopened"


@dataclass(frozen=True)
class StateChange:
    """The helpdesk closed, deleted or reopened a ticket; no customer message comes with it."""

    tenant: str
    external_id: str
    state: str  # closed | deleted | reopened
    delivery_id: str
    source: str | None = None  # the ticket's source when it is not the connector's name


@dataclass(frozen=True)
class Normalised:
    """What a webhook means: tickets to submit, a ticket's new state, or the reason it changes nothing."""

    deliveries: list[Delivery] = field(default_factory=list)
    ignored: str | None = None
    state: StateChange | None = None

    @classmethod
    def ignore(cls, reason: str) -> Normalised:
        return cls(ignored=reason)


class WebhookVendor(ABC):
    """A helpdesk's inbound webhook format: how it signs, and how its payloads map to a Ticket."""

    name: ClassVar[str]

    @abstractmethod
    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        """Raise SignatureError unless `raw_body` is signed (or authenticated) as the vendor does it."""

    @abstractmethod
    def normalise(
        self,
        payload: Any,
        headers: Mapping[str, str],
        config: ConnectorConfig,
        *,
        tenant: str,
        raw_body: bytes,
    ) -> Normalised:
        """Map a verified payload to canonical tickets, or to an ignore outcome; PayloadError if malformed."""


class HubSignatureVendor(WebhookVendor):
    """A vendor that signs the raw body with HMAC-SHA1 in `X-Hub-Signature: sha1=<hex>` (Zammad, Intercom)."""

    def verify(
        self, raw_body: bytes, headers: Mapping[str, str], config: ConnectorConfig, *, now: datetime
    ) -> None:
        secrets = require_secrets(config)
        presented = decode_hub_signature(headers.get("x-hub-signature"))
        if not any_digest_matches(presented, secrets, raw_body, "sha1"):
            raise SignatureError("signature does not match")


def require_secrets(config: ConnectorConfig) -> list[bytes]:
    """Return the configured signing secrets; none configured refuses every request (fail closed)."""
    secrets = config.signing_secrets()
    if not secrets:
        # An empty secret would let anyone who finds the URL forge tickets, so refuse instead.
        raise SignatureError("no webhook secret is configured for this connector")
    return secrets


def hmac_digest(secret: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret, message, getattr(hashlib, algorithm)).digest()


def any_digest_matches(presented: bytes, secrets: list[bytes], message: bytes, algorithm: str) -> bool:
    """Compare `presented` with the HMAC under every secret, in constant time, checking all of them."""
    matched = False
    for secret in secrets:
        # No early exit: the time taken does not reveal which key (old or new) matched.
        matched |= hmac.compare_digest(hmac_digest(secret, message, algorithm), presented)
    return matched


def decode_base64(value: str) -> bytes:
    """Decode a base64 signature strictly; a malformed one is a bad signature, not a server error."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (ValueError, TypeError) as exc:
        raise SignatureError("signature is not valid base64") from exc


def decode_hub_signature(value: str | None) -> bytes:
    """Parse `sha1=<hex>` (the GitHub-style X-Hub-Signature that Zammad and Intercom send)."""
    if not value:
        raise SignatureError("missing X-Hub-Signature header")
    scheme, _, hex_digest = value.strip().partition("=")
    if scheme.lower() != "sha1" or not hex_digest:
        raise SignatureError("X-Hub-Signature must be sha1=<hex>")
    try:
        return bytes.fromhex(hex_digest)
    except ValueError as exc:
        raise SignatureError("X-Hub-Signature is not hex") from exc


def body_fingerprint(raw_body: bytes) -> str:
    """Return a delivery id for vendors that send none: a retry resends the same bytes."""
    return "sha256:" + hashlib.sha256(raw_body).hexdigest()


PayloadModel = TypeVar("PayloadModel", bound=BaseModel)


def parse_payload(model: type[PayloadModel], payload: Any, *, prefix: str = "") -> PayloadModel:
    """Validate a verified payload into `model`; raise PayloadError naming the first bad field."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(payload_error(exc, prefix=prefix)) from exc


class _TextExtractor(HTMLParser):
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(value: str) -> str:
    """Return the readable text of an HTML fragment (Help Scout, Intercom and Freshdesk send HTML)."""
    if "<" not in value and "&" not in value:
        return value.strip()
    parser = _TextExtractor()
    try:
        parser.feed(value)
        parser.close()
        text = "".join(parser.parts)
    except AssertionError:
        # html.parser raises AssertionError on some malformed markup (`<![x[`, `<![0`): a signed body
        # a helpdesk sent was a 500. Fall back to dropping anything tag-like and decoding entities.
        readable = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", value)
        text = html.unescape(re.sub(r"<[^>]*>", "\n", readable))
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def is_ours(body: str, author_id: Any, config: ConnectorConfig) -> bool:
    """Return whether an event was caused by this service: our marker in the text, or our bot user."""
    if BOT_MARKER in body:
        return True
    return author_id is not None and str(author_id) in {str(b) for b in config.bot_user_ids}

"""Sign test payloads exactly as each helpdesk does, and make one-mutation hostile variants."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.webhooks.standard import sign as standard_sign

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"

SECRETS = {
    "zendesk": "zd-signing-secret-3f9a",
    "freshdesk": "fd-shared-secret-81c2",
    "zammad": "zm-hmac-token-77d0",
    "helpscout": "hs-webhook-key-12ab",
    "intercom": "ic-client-secret-5e6f",
    "standard": "whsec_" + base64.b64encode(b"standard-webhooks-test-key-0001").decode(),
}

# The header that carries each vendor's signature (Freshdesk: the shared secret itself).
SIGNATURE_HEADER = {
    "zendesk": "X-Zendesk-Webhook-Signature",
    "freshdesk": "X-Triage-Secret",
    "zammad": "X-Hub-Signature",
    "helpscout": "X-HelpScout-Signature",
    "intercom": "X-Hub-Signature",
    "standard": "webhook-signature",
}

# One documented payload per vendor that the tests treat as "a new ticket".
NEW_TICKET = {
    "zendesk": "zendesk/ticket_created.json",
    "freshdesk": "freshdesk/ticket_created.json",
    "zammad": "zammad/article_created.json",
    "helpscout": "helpscout/convo_created.json",
    "intercom": "intercom/conversation_user_created.json",
    "standard": "standard/ticket_created.json",
}

VENDORS = tuple(NEW_TICKET)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed_headers(
    vendor: str,
    body: bytes,
    *,
    secret: str | None = None,
    now: datetime | None = None,
    delivery_id: str | None = None,
    event: str | None = None,
) -> dict[str, str]:
    """Return the headers the vendor would send with `body`, signed with `secret`."""
    secret = secret if secret is not None else SECRETS[vendor]
    now = now or datetime.now(UTC)
    key = secret.encode()
    headers = {"Content-Type": "application/json"}
    if vendor == "zendesk":
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(key, stamp.encode() + body, hashlib.sha256).digest()
        headers |= {
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }
    elif vendor == "freshdesk":
        headers["X-Triage-Secret"] = secret
    elif vendor == "zammad":
        headers |= {
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
            "X-Zammad-Delivery": delivery_id or uuid.uuid4().hex,
            "X-Zammad-Trigger": "triage: customer article",
        }
    elif vendor == "helpscout":
        headers |= {
            "X-HelpScout-Signature": base64.b64encode(hmac.new(key, body, hashlib.sha1).digest()).decode(),
            "X-HelpScout-Event": event or "convo.created",
        }
    elif vendor == "intercom":
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    elif vendor == "standard":
        msg_id = delivery_id or f"msg_{uuid.uuid4().hex}"
        stamp = int(now.timestamp())
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_sign(secret, msg_id, stamp, body),
        }
    else:
        raise ValueError(vendor)
    return headers


def flip_last_byte(vendor: str, headers: dict[str, str]) -> dict[str, str]:
    """Return the headers with the signature's last byte changed by one: a forgery that is nearly right."""
    name = SIGNATURE_HEADER[vendor]
    value = headers[name]
    if vendor == "freshdesk":
        tampered = value[:-1] + chr(ord(value[-1]) + 1)
    elif value.startswith("sha1="):
        raw = bytearray(bytes.fromhex(value[5:]))
        raw[-1] ^= 0x01
        tampered = "sha1=" + raw.hex()
    else:
        prefix = "v1," if vendor == "standard" else ""
        raw = bytearray(base64.b64decode(value[len(prefix) :]))
        raw[-1] ^= 0x01
        tampered = prefix + base64.b64encode(bytes(raw)).decode()
    return {**headers, name: tampered}


def reserialised(body: bytes) -> bytes:
    """Return the same JSON re-encoded (other spacing and key order), as a careless proxy would."""
    return json.dumps(json.loads(body), indent=1, sort_keys=True).encode()


def stale(minutes: float = 6) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)

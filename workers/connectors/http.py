"""HTTP helpers every connector shares: SSRF guard, Retry-After parsing, outcome classification."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from workers.connectors.base import DeliveryResult

# The longest wait a receiver may ask for; beyond it the outbox schedule takes over.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class URLRefused(ValueError):
    """An outbound URL points somewhere the service must not call."""


def check_url_allowed(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that resolve to loopback, private, link-local or metadata addresses (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise URLRefused(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise URLRefused(f"cannot resolve {parts.hostname}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
            or address.is_multicast
            or address.is_unspecified
        ):
            raise URLRefused(f"{parts.hostname} resolves to a non-public address")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a `Retry-After` header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def result_from_response(response: httpx.Response) -> DeliveryResult:
    """Classify a response: 2xx is done, 410 is permanent, everything else is retried."""
    code = response.status_code
    if 200 <= code < 300:
        return DeliveryResult(ok=True, status_code=code)
    retry_after = parse_retry_after(response.headers.get("retry-after")) if code in (429, 503) else None
    return DeliveryResult(
        ok=False,
        status_code=code,
        retry_after=retry_after,
        error=f"HTTP {code}",
        permanent=code == 410,
        rate_limited=code == 429,
    )


def post_once(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> DeliveryResult:
    """POST `body` to a configured URL once, after the SSRF check, and classify what came back.

    Redirects are not followed: a 3xx is a failure, so a receiver cannot bounce us somewhere inside.
    """
    try:
        check_url_allowed(url, allow_private=allow_private)
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
    except Exception as exc:
        return result_from_error(exc)
    return result_from_response(response)


def result_from_error(exc: Exception) -> DeliveryResult:
    if isinstance(exc, URLRefused):
        return DeliveryResult(ok=False, error=str(exc), permanent=True)
    return DeliveryResult(ok=False, error=type(exc).__name__)

"""HTTP helpers every connector shares: SSRF guard, Retry-After parsing, outcome classification."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from workers.connectors.base import DeliveryResult

# The longest wait a receiver may ask for; beyond it the outbox schedule takes over.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 6052's well-known NAT64 prefix: the last 32 bits are the IPv4 address the gateway connects to.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class URLRefused(ValueError):
    """An outbound URL points somewhere the service must not call."""


def resolve_host(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Return whether `address` is globally routable, looking inside IPv6 forms that carry an IPv4.

    `is_global` alone is not enough: it calls multicast and the deprecated site-local range global,
    and an IPv6 address can route to an inner IPv4 (mapped, NAT64, 6to4, Teredo) that is not public.
    """
    if isinstance(address, ipaddress.IPv6Address):
        # These two reach exactly the embedded IPv4, so it alone decides.
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64_PREFIX:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = [address.sixtofour, *(address.teredo or ())]
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def check_url_allowed(url: str | httpx.URL, *, allow_private: bool, resolver: Resolver | None = None) -> str:
    """Resolve the URL's host once and return the address to connect to; refuse a non-public one.

    Every address the name resolves to must be public, not just the first: otherwise a name with one
    public and one internal address passes the check and the connection may go to either.

    Raises:
        URLRefused: not http(s), the name does not resolve, or an address is not globally routable.
    """
    parts = urlsplit(str(url))
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host:
        raise URLRefused(f"not an http(s) URL: {parts.scheme}://{host}")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = (resolver or resolve_host)(host, parts.port or DEFAULT_PORTS[parts.scheme])
            # A scoped IPv6 address (fe80::1%eth0) is link-local, which is refused below anyway.
            addresses = [ipaddress.ip_address(str(a).split("%", 1)[0]) for a in found]
        except (OSError, ValueError) as exc:
            raise URLRefused(f"cannot resolve {host}") from exc
        if not addresses:
            raise URLRefused(f"cannot resolve {host}")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise URLRefused(f"{host} resolves to a non-public address")
    return str(addresses[0])


class PinnedTransport(httpx.BaseTransport):
    """Send each request to the address the SSRF check approved, never to a second lookup of the name.

    Resolving once and connecting to that address closes DNS rebinding: a name that answers a public
    address to the check and an internal one to the connect would otherwise pass. The URL keeps the
    name for the `Host` header and TLS gets it as the SNI and the name the certificate must match.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        inner: httpx.BaseTransport | None = None,
    ):
        self.allow_private = allow_private
        self.resolver = resolver
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host
        address = check_url_allowed(request.url, allow_private=self.allow_private, resolver=self.resolver)
        if "host" not in request.headers:
            request.headers["host"] = request.url.netloc.decode("ascii")
        request.url = request.url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": name}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def pinned_client(
    *,
    allow_private: bool,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    **kwargs: object,
) -> httpx.Client:
    """Return a client whose requests go only to checked addresses, with no redirects or proxies.

    Redirects are not followed: a 3xx is a failure, so a receiver cannot bounce us somewhere inside.
    `trust_env` is off so an `HTTPS_PROXY` (which would resolve the name again) or a `.netrc` (which
    would add credentials) in the worker's environment plays no part.
    """
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=PinnedTransport(allow_private=allow_private, inner=transport),
        **kwargs,  # type: ignore[arg-type]
    )


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
    """POST `body` to a configured URL once, to the address the SSRF check approved; classify the answer."""
    try:
        with pinned_client(allow_private=allow_private, timeout=timeout) as client:
            response = client.post(url, content=body, headers=headers)
    except Exception as exc:
        return result_from_error(exc)
    return result_from_response(response)


def result_from_error(exc: Exception) -> DeliveryResult:
    if isinstance(exc, URLRefused):
        return DeliveryResult(ok=False, error=str(exc), permanent=True)
    return DeliveryResult(ok=False, error=type(exc).__name__)

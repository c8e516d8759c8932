"""The SSRF guard: every resolved address must be public, and the connection goes to the one checked.

Name resolution is stubbed (`resolve_host`) and the system resolver is refused (conftest), so nothing
here sends a packet anywhere but loopback.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest

from tests.workers.connectors.conftest import action, connector
from workers.connectors.http import URLRefused, check_url_allowed, pinned_client, post_once
from workers.connectors.webhook import StandardWebhookConnector

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
PUBLIC = "93.184.216.34"

NON_PUBLIC = [
    "100.100.100.200",  # carrier-grade NAT: Alibaba Cloud's metadata service
    "100.64.0.1",
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "192.0.0.170",
    "198.18.0.1",
    "240.0.0.1",
    "224.0.1.1",  # multicast, which `is_global` calls global
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fec0::1",  # deprecated site-local, which `is_global` calls global
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:100.100.100.200",
    "::7f00:1",  # IPv4-compatible (deprecated)
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::6464:64c8",  # NAT64 of 100.100.100.200
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:6464:64c8::1",  # 6to4 of 100.100.100.200
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:db8::1",  # documentation
]
PUBLIC_ADDRESSES = [
    PUBLIC,
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


class StubResolver:
    """Answers from a table, once per call in order (a rebinding name answers differently later)."""

    def __init__(self, *answers: Sequence[str]):
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return list(self.answers[min(len(self.calls), len(self.answers)) - 1])


@pytest.fixture
def resolve(monkeypatch: pytest.MonkeyPatch) -> Callable[..., StubResolver]:
    def install(*answers: Sequence[str]) -> StubResolver:
        stub = StubResolver(*answers)
        monkeypatch.setattr("workers.connectors.http.resolve_host", stub)
        return stub

    return install


class RecordingTransport(httpx.MockTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        super().__init__(self.record)

    def record(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={})


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_address_is_refused(resolve: Callable[..., StubResolver], address: str) -> None:
    resolve([address])

    with pytest.raises(URLRefused, match="non-public"):
        check_url_allowed("https://hooks.example/x", allow_private=False)


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_literal_is_refused(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(URLRefused):
        check_url_allowed(f"https://{host}/x", allow_private=False)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_address_is_allowed(resolve: Callable[..., StubResolver], address: str) -> None:
    resolve([address])

    pinned = check_url_allowed("https://hooks.example/x", allow_private=False)

    assert ipaddress.ip_address(pinned) == ipaddress.ip_address(address)


def test_every_resolved_address_is_checked(resolve: Callable[..., StubResolver]) -> None:
    resolve([PUBLIC, "2606:4700:4700::1111", "100.100.100.200"])

    with pytest.raises(URLRefused):
        check_url_allowed("https://hooks.example/x", allow_private=False)


def test_a_name_that_does_not_resolve_is_refused(resolve: Callable[..., StubResolver]) -> None:
    resolve([])

    with pytest.raises(URLRefused, match="cannot resolve"):
        check_url_allowed("https://hooks.example/x", allow_private=False)


def test_allow_private_still_resolves_once_and_pins(resolve: Callable[..., StubResolver]) -> None:
    stub = resolve(["10.0.0.7"])

    assert check_url_allowed("http://helpdesk.internal/x", allow_private=True) == "10.0.0.7"
    assert stub.calls == ["helpdesk.internal"]


def test_connection_goes_to_the_checked_address_with_the_name_for_host_and_sni(
    resolve: Callable[..., StubResolver],
) -> None:
    # A rebinding name: public for the first lookup, loopback for any later one.
    stub = resolve([PUBLIC], ["127.0.0.1"])
    transport = RecordingTransport()

    with pinned_client(allow_private=False, timeout=1, transport=transport) as client:
        client.post("https://hooks.example:8443/x?y=1", content=b"{}")

    [request] = transport.requests
    assert stub.calls == ["hooks.example"]
    assert request.url.host == PUBLIC and request.url.port == 8443 and request.url.query == b"y=1"
    assert request.headers["host"] == "hooks.example:8443"
    assert request.extensions["sni_hostname"] == "hooks.example"


def test_each_request_is_checked_so_a_later_rebind_is_refused(resolve: Callable[..., StubResolver]) -> None:
    resolve([PUBLIC], ["169.254.169.254"])
    transport = RecordingTransport()

    with pinned_client(allow_private=False, timeout=1, transport=transport) as client:
        client.get("https://hooks.example/first")
        with pytest.raises(URLRefused):
            client.get("https://hooks.example/second")

    assert [r.url.host for r in transport.requests] == [PUBLIC]


def test_ipv6_address_is_bracketed_in_the_pinned_url(resolve: Callable[..., StubResolver]) -> None:
    resolve(["2606:4700:4700::1111"])
    transport = RecordingTransport()

    with pinned_client(allow_private=False, timeout=1, transport=transport) as client:
        client.get("https://hooks.example/x")

    assert transport.requests[0].url.host == "2606:4700:4700::1111"
    assert transport.requests[0].headers["host"] == "hooks.example"


def test_real_connection_reaches_the_pinned_loopback_address_without_a_system_lookup(
    resolve: Callable[..., StubResolver],
) -> None:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers["host"])
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    # The system resolver is refused in these tests, so only the pinned address can be dialled.
    resolve(["127.0.0.1"])
    try:
        result = post_once(f"http://hooks.invalid:{port}/x", b"{}", {}, timeout=2, allow_private=True)
    finally:
        server.shutdown()
        server.server_close()

    assert result.ok and result.status_code == 204
    assert seen == [f"hooks.invalid:{port}"]


def test_outbound_webhook_to_a_metadata_name_is_refused_for_good(
    resolve: Callable[..., StubResolver],
) -> None:
    resolve(["100.100.100.200"])

    result = StandardWebhookConnector("https://hooks.example/x", SECRET).deliver(
        replace(action("zendesk"), source="api")
    )

    assert not result.ok and result.permanent and "non-public" in (result.error or "")


def test_helpdesk_on_a_non_public_address_gets_no_request(
    resolve: Callable[..., StubResolver], vendor: str
) -> None:
    resolve(["100.100.100.200"])
    transport = RecordingTransport()
    helpdesk = connector(vendor, "https://acme.helpdesk.example")
    helpdesk.allow_private = False
    helpdesk.transport = transport

    result = helpdesk.deliver(action(vendor))

    assert transport.requests == []
    assert not result.ok and result.permanent

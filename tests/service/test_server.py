"""The API server drops clients that send half a request, against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from service.cli import api_command
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

READ_TIMEOUT = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def api_url(sqlite_url: str) -> Iterator[str]:
    port = free_port()
    settings = make_settings(sqlite_url, api_request_read_timeout_seconds=READ_TIMEOUT)
    env = {
        **os.environ,
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_DATABASE_URL": sqlite_url,
        "TRIAGE_API_KEY": "test-api-key",
        "TRIAGE_REDIS_URL": "redis://127.0.0.1:1/0",
        "TRIAGE_API_REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    }
    process = subprocess.Popen(api_command("127.0.0.1", port, settings), env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("API did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def seconds_until_closed(port: int, first_bytes: bytes) -> float:
    """Send `first_bytes`, then nothing; return how long until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        started = time.monotonic()
        client.sendall(first_bytes)
        while client.recv(4096):
            pass
        return time.monotonic() - started


def test_half_sent_headers_are_dropped_within_the_read_timeout(api_url: str) -> None:
    port = int(api_url.rsplit(":", 1)[1])

    waited = seconds_until_closed(port, b"POST /v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api")

    assert READ_TIMEOUT * 0.8 <= waited < READ_TIMEOUT + 2


def test_half_sent_body_is_dropped_within_the_read_timeout(api_url: str) -> None:
    port = int(api_url.rsplit(":", 1)[1])
    head = b"POST /v1/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"

    waited = seconds_until_closed(port, head + b'Content-Length: 1000\r\n\r\n{"external_id":')

    assert waited < READ_TIMEOUT + 2


def test_a_connection_that_sends_nothing_is_dropped(api_url: str) -> None:
    port = int(api_url.rsplit(":", 1)[1])
    assert seconds_until_closed(port, b"") < READ_TIMEOUT + 2


def test_a_prompt_request_is_served_as_usual(api_url: str) -> None:
    response = httpx.get(f"{api_url}/healthz", timeout=5)
    assert response.status_code == 200

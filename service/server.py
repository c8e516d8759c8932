"""The API's HTTP server settings: read and keep-alive timeouts and a connection limit for uvicorn.

uvicorn closes idle keep-alive connections but has no limit on how long a request may take to
arrive, so a client that sends half a request and waits holds its connection for ever (300 of them
did, for 60 s, in the review). `ReadTimeoutProtocol` closes any connection whose request is not fully
read within `api_request_read_timeout_seconds` of its first byte (or of the connection opening).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.config import Settings, get_settings


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request is not read in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = get_settings().api_request_read_timeout_seconds
        self.read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.read_deadline is None:
            self.read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _read_timed_out(self) -> None:
        # The app (if it started) sees a disconnect and stops waiting for the body.
        self.read_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


PROTOCOL = f"{ReadTimeoutProtocol.__module__}:{ReadTimeoutProtocol.__qualname__}"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Return the uvicorn keyword options that bound slow and idle clients."""
    return {
        "http": PROTOCOL,
        "timeout_keep_alive": settings.api_keep_alive_timeout_seconds,
        "limit_concurrency": settings.api_max_connections,
    }


def uvicorn_flags(settings: Settings) -> list[str]:
    """Return the same options as uvicorn command-line flags."""
    return [
        "--http",
        PROTOCOL,
        "--timeout-keep-alive",
        str(settings.api_keep_alive_timeout_seconds),
        "--limit-concurrency",
        str(settings.api_max_connections),
    ]

"""A lean HTTP/1.1 load generator: prepared requests over keep-alive connections, latency per request.

A general client (httpx) costs about a millisecond of CPU per request; on two shared cores that would
measure the client, not the API. This one writes prepared bytes and reads the status line, headers and
a Content-Length body, nothing more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    """One prepared request: its path, extra headers and body."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, host: str) -> bytes:
        """Return the request as bytes on the wire."""
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class LoadResult:
    """Latencies (seconds) and status codes of every request, and the wall time of the run."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Return completed requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[rank]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep_alive = False
    if length:
        await reader.readexactly(length)
    return status, keep_alive


async def _connection(host: str, port: int, work: Iterator[bytes], result: LoadResult) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    for payload in work:
        for _attempt in range(3):
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter()
            try:
                writer.write(payload)
                status, keep_alive = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                reader = writer = None
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if not keep_alive:
                writer.close()
                reader = writer = None
            break
        else:
            result.errors += 1
    if writer is not None:
        writer.close()


async def _run(host: str, port: int, payloads: Sequence[bytes], connections: int) -> LoadResult:
    result = LoadResult()
    work = iter(payloads)  # shared: each connection takes the next request when it is free
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, work, result) for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    port: int, requests: Sequence[Request], *, connections: int, host: str = "127.0.0.1"
) -> LoadResult:
    """Send every request once over `connections` keep-alive connections; return what came back."""
    payloads = [request.encode(f"{host}:{port}") for request in requests]
    return asyncio.run(_run(host, port, payloads, connections))

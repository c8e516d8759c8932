"""The pipeline benchmark's parts: the seeded ticket mix and the HTTP load generator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workers.bench.load import Request, percentile, run_load
from workers.bench.pipeline import bench_tickets, ticket_requests


def test_the_ticket_mix_is_seeded_and_mixes_lengths():
    first = bench_tickets(200, None, seed=3)

    assert first == bench_tickets(200, None, seed=3)
    assert first != bench_tickets(200, None, seed=4)
    lengths = sorted(len(t.text().split()) for t in first)
    assert lengths[0] < 15 < lengths[-1]
    # Requesters repeat, so the workers read earlier tickets as they would in production.
    assert len({t.requester_id for t in first}) < len(first)


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn answers
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        answer = b'{"ok": true}'
        self.send_response(202 if self.path == "/v1/tickets" else 404)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_the_load_generator_sends_every_request_once_and_times_each(echo_port):
    _Echo.bodies = []
    requests = ticket_requests(bench_tickets(5, None), 40, "t")
    requests.append(Request("/elsewhere", b"{}"))

    result = run_load(echo_port, requests, connections=4)

    assert sorted(_Echo.bodies) == sorted(r.body for r in requests)
    assert result.statuses == {202: 40, 404: 1}
    assert len(result.latencies) == 41 and result.errors == 0
    assert result.per_second > 0


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([], 0.5) == 0.0

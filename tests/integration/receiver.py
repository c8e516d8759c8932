"""A real HTTP receiver of Standard Webhooks events, scriptable to fail, that dedupes on webhook-id."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    received_at: float


class Receiver:
    """Records every request; answers from a script of (status, headers) or ("sleep", seconds)."""

    def __init__(self, secret: str):
        self.verifier = Webhook(secret)
        self.requests: list[Received] = []
        self.delivered: dict[str, Any] = {}  # webhook-id -> payload, as a deduping receiver keeps it
        self._script: list[tuple[Any, Any]] = []
        self._default: tuple[Any, Any] = (200, {})
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    step = receiver._script.pop(0) if receiver._script else receiver._default
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = (200, {})
                try:
                    payload = receiver.verifier.verify(body, headers)
                    verified = True
                except Exception:
                    payload, verified = None, False
                with receiver._lock:
                    receiver.requests.append(Received(headers, body, verified, arrived))
                    if verified and 200 <= step[0] < 300:
                        receiver.delivered.setdefault(headers["webhook-id"], payload)
                self.send_response(step[0])
                for name, value in step[1].items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def script(self, steps: list[tuple[Any, Any]], default: tuple[Any, Any] | None = None) -> None:
        with self._lock:
            self._script = list(steps)
            if default is not None:
                self._default = default

    def events(self, kind: str | None = None) -> list[Any]:
        with self._lock:
            return [p for p in self.delivered.values() if kind is None or p["type"] == kind]

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

"""ASGI middleware: a request body limit counted on the bytes actually streamed, and a JSON depth limit."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No body this API reads nests deeper than about 8 levels. Python's JSON parser recurses once per
# level, so 10,000 levels raised RecursionError (a 500) before any validation could answer.
MAX_JSON_DEPTH = 32

# A JSON string (skipped whole, so brackets inside text do not count) or one bracket.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Return whether `body` opens more than `limit` nested arrays or objects, without parsing it."""
    depth = 0
    for token in _JSON_TOKEN.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth = max(depth - 1, 0)
    return False


class BodyLimitMiddleware:
    """Answer 413 once a body passes `max_bytes`, whatever Content-Length claimed (or if it is absent),
    and 422 when it nests deeper than `max_depth`.

    The body is read here, up to the limit, before the app sees it: the app then only ever parses a
    body that fits, and a sender cannot make it buffer more by leaving out Content-Length. The depth
    is counted on the raw bytes, before any parser runs (webhook signatures are checked later, on
    the same untouched bytes).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = MAX_JSON_DEPTH):
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.max_depth):
            await self._reject(send, 422, f"body: JSON nested deeper than {self.max_depth} levels")
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, status: int = 413, detail: str | None = None) -> None:
        detail = detail or f"request body larger than {self.max_bytes} bytes"
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# Sent with every response unless the route set its own (the assist page has its own CSP).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
# JSON answers are never rendered, framed or cached by a browser: they may hold ticket text.
JSON_SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)


class SecurityHeadersMiddleware:
    """Add `nosniff` and a referrer policy to every response, and a locked-down CSP to JSON ones."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                is_json = any(
                    name.lower() == b"content-type" and b"json" in value.lower() for name, value in headers
                )
                extra = SECURITY_HEADERS + (JSON_SECURITY_HEADERS if is_json else ())
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Local fakes of each helpdesk's API: small HTTP servers that check requests as the vendor would.

Each fake checks method, path, authentication and body shape against the vendor's documented format
(see the connector modules for the sources), answers like the vendor, keeps the ticket's notes, tags,
priority and group, and records every request. Faults are scripted: `fail(429, retry_after=7)`,
`fail(503)`, `slow(2.0)`. A request the real API would refuse is answered 400/401 and listed in
`violations`, so a test can assert that none happened.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, dict[str, str], Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    method: str | None = None
    path: str | None = None


@dataclass
class FakeTicket:
    notes: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: Any = None
    group: Any = None
    customer_id: int = 501


class ShapeError(Exception):
    """The request is not what the vendor documents: 400, recorded as a violation."""


class FakeHelpdesk:
    """Base of the vendor fakes: an HTTP server on loopback, a route table and scripted faults."""

    vendor = ""

    def __init__(self) -> None:
        self.tickets: dict[str, FakeTicket] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = []

    # Set-up

    def add_ticket(self, ticket_id: str | int, **fields: Any) -> FakeTicket:
        ticket = FakeTicket(**fields)
        self.tickets[str(ticket_id)] = ticket
        return ticket

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (and `Retry-After` if given)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults.append(Fault(status, times, headers, method=method, path=path))

    def slow(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Delay the next `times` matching requests by `seconds` before answering normally."""
        self.faults.append(Fault(0, times, delay=seconds, method=method, path=path))

    @contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a free loopback port; yield the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, body = fake.dispatch(
                    self.command, self.path, dict(self.headers.items()), raw
                )
                data = b"" if body is None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    if data:
                        self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left; a real API would not notice either

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{self._server.server_address[1]}"
        finally:
            self._server.shutdown()
            self._server.server_close()

    # Serving

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(raw_path)
        lowered = {k.lower(): v for k, v in headers.items()}
        body: Any = None
        if raw:
            if lowered.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._violation(f"{method} {parts.path}: body is not JSON")
        with self._lock:
            self.requests.append(Recorded(method, parts.path, parse_qs(parts.query), lowered, body))
            fault = self._take_fault(method, parts.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                return fault.status, fault.headers, {"error": f"injected {fault.status}"}
        if not self.authorised(method, parts.path, lowered, body):
            return self._violation(f"{method} {parts.path}: bad credentials", status=401)
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(parts.path)
            if match and route_method == method:
                try:
                    with self._lock:
                        return handler(body, *match.groups())
                except ShapeError as exc:
                    return self._violation(f"{method} {parts.path}: {exc}")
                except KeyError:
                    return 404, {}, {"error": "not found"}
        return self._violation(f"{method} {parts.path}: no such endpoint", status=404)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if (
                fault.times > 0
                and (fault.method in (None, method))
                and (fault.path is None or fault.path in path)
            ):
                fault.times -= 1
                return fault
        return None

    def _violation(self, message: str, status: int = 400) -> Reply:
        self.violations.append(message)
        return status, {}, {"error": message}

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        raise NotImplementedError

    def route(self, method: str, pattern: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
        def register(handler: Callable[..., Reply]) -> Callable[..., Reply]:
            self.routes.append((method, re.compile(pattern), handler))
            return handler

        return register

    # What a test asserts on

    def ticket(self, ticket_id: str | int) -> FakeTicket:
        return self.tickets[str(ticket_id)]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET" and "oauth2" not in r.path]


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return user, password


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ShapeError(message)


def _only_keys(body: Any, allowed: set[str], where: str) -> dict[str, Any]:
    _require(isinstance(body, dict), f"{where}: expected an object")
    unknown = set(body) - allowed
    _require(not unknown, f"{where}: unknown fields {sorted(unknown)}")
    return body  # type: ignore[no-any-return]


class FakeZendesk(FakeHelpdesk):
    """Zendesk Support API v2: tickets, comments, tags; basic `{email}/token:{token}`."""

    vendor = "zendesk"
    PRIORITIES = {"low", "normal", "high", "urgent"}

    def __init__(self, email: str = "bot@example.com", api_token: str = "zd-token") -> None:
        super().__init__()
        self.email, self.api_token = email, api_token
        self.route("GET", r"/api/v2/tickets/(\d+)/comments\.json")(self._comments)
        self.route("PUT", r"/api/v2/tickets/(\d+)/tags\.json")(self._add_tags)
        self.route("PUT", r"/api/v2/tickets/(\d+)\.json")(self._update)

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        return _basic(headers) == (f"{self.email}/token", self.api_token)

    def _comments(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        comments = [
            {"id": i + 1, "body": n["body"], "public": not n["internal"]} for i, n in enumerate(ticket.notes)
        ]
        return 200, {}, {"comments": list(reversed(comments)), "next_page": None, "count": len(comments)}

    def _add_tags(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        tags = _only_keys(body, {"tags"}, "body")["tags"]
        _require(isinstance(tags, list) and all(isinstance(t, str) for t in tags), "tags: list of strings")
        ticket.tags += [t for t in tags if t not in ticket.tags]
        return 200, {}, {"tags": ticket.tags}

    def _update(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        fields = _only_keys(
            _only_keys(body, {"ticket"}, "body")["ticket"], {"comment", "priority", "group_id"}, "ticket"
        )
        if "comment" in fields:
            comment = _only_keys(fields["comment"], {"body", "public", "html_body"}, "ticket.comment")
            _require(
                isinstance(comment.get("body"), str) and comment["body"], "ticket.comment.body: required"
            )
            _require(isinstance(comment.get("public"), bool), "ticket.comment.public: boolean")
            ticket.notes.append({"body": comment["body"], "internal": not comment["public"], "draft": False})
        if "priority" in fields:
            _require(fields["priority"] in self.PRIORITIES, f"priority: {fields['priority']!r} not allowed")
            ticket.priority = fields["priority"]
        if "group_id" in fields:
            _require(isinstance(fields["group_id"], int), "group_id: integer")
            ticket.group = fields["group_id"]
        return 200, {}, {"ticket": {"id": int(ticket_id), "priority": ticket.priority, "tags": ticket.tags}}


class FakeFreshdesk(FakeHelpdesk):
    """Freshdesk API v2: tickets, conversations, notes, reply; API key as basic user, "X" password."""

    vendor = "freshdesk"

    def __init__(self, api_key: str = "fd-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.route("GET", r"/api/v2/tickets/(\d+)")(self._get)
        self.route("PUT", r"/api/v2/tickets/(\d+)")(self._update)
        self.route("GET", r"/api/v2/tickets/(\d+)/conversations")(self._conversations)
        self.route("POST", r"/api/v2/tickets/(\d+)/notes")(self._note)
        self.route("POST", r"/api/v2/tickets/(\d+)/reply")(self._reply)

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        credentials = _basic(headers)
        return credentials is not None and credentials[0] == self.api_key

    def _get(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        return 200, {}, {"id": int(ticket_id), "tags": ticket.tags, "priority": ticket.priority or 1}

    def _update(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        fields = _only_keys(body, {"priority", "group_id", "tags", "status"}, "body")
        if "priority" in fields:
            _require(fields["priority"] in (1, 2, 3, 4), f"priority: {fields['priority']!r} not 1-4")
            ticket.priority = fields["priority"]
        if "group_id" in fields:
            _require(isinstance(fields["group_id"], int), "group_id: integer")
            ticket.group = fields["group_id"]
        if "tags" in fields:
            _require(isinstance(fields["tags"], list), "tags: list")
            ticket.tags = list(fields["tags"])
        return 200, {}, {"id": int(ticket_id), "priority": ticket.priority, "tags": ticket.tags}

    def _conversations(self, body: Any, ticket_id: str) -> Reply:
        notes = self.ticket(ticket_id).notes
        return (
            200,
            {},
            [{"id": i + 1, "body": n["body"], "private": n["internal"]} for i, n in enumerate(notes)],
        )

    def _note(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        note = _only_keys(body, {"body", "private", "notify_emails"}, "body")
        _require(isinstance(note.get("body"), str) and note["body"], "body: required")
        ticket.notes.append({"body": note["body"], "internal": note.get("private", True), "draft": False})
        return 201, {}, {"id": len(ticket.notes), "body": note["body"], "private": note.get("private", True)}

    def _reply(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        reply = _only_keys(body, {"body", "cc_emails", "bcc_emails"}, "body")
        ticket.notes.append({"body": reply["body"], "internal": False, "draft": False})
        return 201, {}, {"id": len(ticket.notes), "body": reply["body"]}


class FakeZammad(FakeHelpdesk):
    """Zammad REST API v1: tickets, ticket_articles, tags; `Authorization: Token token=...`."""

    vendor = "zammad"
    PRIORITIES = {"1 low", "2 normal", "3 high"}

    def __init__(self, token: str = "zm-token") -> None:
        super().__init__()
        self.token = token
        self.route("PUT", r"/api/v1/tickets/(\d+)")(self._update)
        self.route("POST", r"/api/v1/tags/add")(self._add_tag)
        self.route("GET", r"/api/v1/ticket_articles/by_ticket/(\d+)")(self._articles)
        self.route("POST", r"/api/v1/ticket_articles")(self._create_article)

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        return headers.get("authorization") == f"Token token={self.token}"

    def _update(self, body: Any, ticket_id: str) -> Reply:
        ticket = self.ticket(ticket_id)
        fields = _only_keys(body, {"priority", "group", "state"}, "body")
        if "priority" in fields:
            _require(fields["priority"] in self.PRIORITIES, f"priority: {fields['priority']!r} unknown")
            ticket.priority = fields["priority"]
        if "group" in fields:
            ticket.group = fields["group"]
        return 200, {}, {"id": int(ticket_id), "priority": ticket.priority}

    def _add_tag(self, body: Any) -> Reply:
        fields = _only_keys(body, {"item", "object", "o_id"}, "body")
        _require(fields.get("object") == "Ticket", "object: must be Ticket")
        _require(isinstance(fields.get("o_id"), int), "o_id: integer")
        ticket = self.ticket(fields["o_id"])
        if fields["item"] not in ticket.tags:
            ticket.tags.append(fields["item"])
        return 200, {}, True

    def _articles(self, body: Any, ticket_id: str) -> Reply:
        notes = self.ticket(ticket_id).notes
        return (
            200,
            {},
            [{"id": i + 1, "body": n["body"], "internal": n["internal"]} for i, n in enumerate(notes)],
        )

    def _create_article(self, body: Any) -> Reply:
        fields = _only_keys(
            body, {"ticket_id", "body", "content_type", "type", "internal", "subject"}, "body"
        )
        _require(isinstance(fields.get("ticket_id"), int), "ticket_id: integer")
        _require(fields.get("type") == "note", "type: note expected for an internal article")
        _require(isinstance(fields.get("internal"), bool), "internal: boolean")
        ticket = self.ticket(fields["ticket_id"])
        ticket.notes.append({"body": fields["body"], "internal": fields["internal"], "draft": False})
        return 201, {}, {"id": len(ticket.notes), "ticket_id": fields["ticket_id"]}


class FakeHelpScout(FakeHelpdesk):
    """Help Scout Mailbox API 2.0: OAuth2 client credentials, conversations, threads, tags."""

    vendor = "helpscout"

    def __init__(self, app_id: str = "hs-app", app_secret: str = "hs-secret") -> None:
        super().__init__()
        self.app_id, self.app_secret = app_id, app_secret
        self.issued = "hs-access-token"
        self.route("POST", r"/v2/oauth2/token")(self._token)
        self.route("GET", r"/v2/conversations/(\d+)")(self._conversation)
        self.route("PUT", r"/v2/conversations/(\d+)/tags")(self._tags)
        self.route("GET", r"/v2/conversations/(\d+)/threads")(self._threads)
        self.route("POST", r"/v2/conversations/(\d+)/notes")(self._note)
        self.route("POST", r"/v2/conversations/(\d+)/reply")(self._reply)

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        if path == "/v2/oauth2/token":
            return True
        return headers.get("authorization") == f"Bearer {self.issued}"

    def _token(self, body: Any) -> Reply:
        fields = body or {}
        _require(fields.get("grant_type") == "client_credentials", "grant_type: client_credentials")
        if (fields.get("client_id"), fields.get("client_secret")) != (self.app_id, self.app_secret):
            return 401, {}, {"error": "invalid_client"}
        return 200, {}, {"token_type": "bearer", "access_token": self.issued, "expires_in": 172800}

    def _conversation(self, body: Any, conversation_id: str) -> Reply:
        ticket = self.ticket(conversation_id)
        return (
            200,
            {},
            {
                "id": int(conversation_id),
                "tags": [{"id": i + 1, "tag": t} for i, t in enumerate(ticket.tags)],
                "primaryCustomer": {"id": ticket.customer_id},
            },
        )

    def _tags(self, body: Any, conversation_id: str) -> Reply:
        fields = _only_keys(body, {"tags"}, "body")
        _require(isinstance(fields["tags"], list), "tags: list")
        self.ticket(conversation_id).tags = list(fields["tags"])
        return 204, {}, None

    def _threads(self, body: Any, conversation_id: str) -> Reply:
        notes = self.ticket(conversation_id).notes
        threads = [
            {
                "id": i + 1,
                "type": "reply" if n["draft"] else "note",
                "state": "draft" if n["draft"] else "published",
                "body": n["body"],
            }
            for i, n in enumerate(notes)
        ]
        return 200, {}, {"_embedded": {"threads": threads}}

    def _note(self, body: Any, conversation_id: str) -> Reply:
        fields = _only_keys(body, {"text", "user", "status", "attachments"}, "body")
        _require(isinstance(fields.get("text"), str) and fields["text"], "text: required")
        ticket = self.ticket(conversation_id)
        ticket.notes.append({"body": fields["text"], "internal": True, "draft": False})
        return 201, {"Resource-ID": str(len(ticket.notes))}, None

    def _reply(self, body: Any, conversation_id: str) -> Reply:
        fields = _only_keys(body, {"customer", "text", "draft", "user", "status", "cc", "bcc"}, "body")
        ticket = self.ticket(conversation_id)
        _require(
            fields.get("customer") == {"id": ticket.customer_id}, "customer: the conversation's customer id"
        )
        _require(isinstance(fields.get("text"), str) and fields["text"], "text: required")
        draft = fields.get("draft", False)
        ticket.notes.append({"body": fields["text"], "internal": False, "draft": bool(draft)})
        return 201, {"Resource-ID": str(len(ticket.notes))}, None


class FakeIntercom(FakeHelpdesk):
    """Intercom REST API: tags, conversation tags, conversations, admin replies and notes."""

    vendor = "intercom"

    def __init__(self, access_token: str = "ic-token", admin_id: str = "991") -> None:
        super().__init__()
        self.access_token, self.admin_id = access_token, admin_id
        self.tag_ids: dict[str, str] = {}
        self.route("POST", r"/tags")(self._create_tag)
        self.route("POST", r"/conversations/(\d+)/tags")(self._tag_conversation)
        self.route("GET", r"/conversations/(\d+)")(self._conversation)
        self.route("POST", r"/conversations/(\d+)/reply")(self._reply)

    def authorised(self, method: str, path: str, headers: dict[str, str], body: Any) -> bool:
        return headers.get("authorization") == f"Bearer {self.access_token}" and "intercom-version" in headers

    def _create_tag(self, body: Any) -> Reply:
        name = _only_keys(body, {"name", "id"}, "body").get("name")
        _require(isinstance(name, str) and name, "name: required")
        tag_id = self.tag_ids.setdefault(name, str(100 + len(self.tag_ids)))
        return 200, {}, {"type": "tag", "id": tag_id, "name": name}

    def _tag_conversation(self, body: Any, conversation_id: str) -> Reply:
        fields = _only_keys(body, {"id", "admin_id"}, "body")
        _require(fields.get("admin_id") == self.admin_id, "admin_id: the app's admin")
        names = {v: k for k, v in self.tag_ids.items()}
        _require(fields.get("id") in names, "id: an existing tag id")
        ticket = self.ticket(conversation_id)
        if names[fields["id"]] not in ticket.tags:
            ticket.tags.append(names[fields["id"]])
        return 200, {}, {"type": "tag", "id": fields["id"], "name": names[fields["id"]]}

    def _conversation(self, body: Any, conversation_id: str) -> Reply:
        notes = self.ticket(conversation_id).notes
        parts = [
            {
                "type": "conversation_part",
                "id": str(i + 1),
                "part_type": "note" if n["internal"] else "comment",
                "body": n["body"],
            }
            for i, n in enumerate(notes)
        ]
        return (
            200,
            {},
            {
                "type": "conversation",
                "id": conversation_id,
                "conversation_parts": {"conversation_parts": parts},
            },
        )

    def _reply(self, body: Any, conversation_id: str) -> Reply:
        fields = _only_keys(body, {"message_type", "type", "admin_id", "body", "attachment_urls"}, "body")
        _require(fields.get("type") == "admin", "type: admin")
        _require(fields.get("message_type") in ("note", "comment"), "message_type: note or comment")
        _require(fields.get("admin_id") == self.admin_id, "admin_id: the app's admin")
        _require(isinstance(fields.get("body"), str) and fields["body"], "body: required")
        ticket = self.ticket(conversation_id)
        ticket.notes.append(
            {"body": fields["body"], "internal": fields["message_type"] == "note", "draft": False}
        )
        return 200, {}, {"type": "conversation", "id": conversation_id}


FAKES: dict[str, type[FakeHelpdesk]] = {
    cls.vendor: cls for cls in (FakeZendesk, FakeFreshdesk, FakeZammad, FakeHelpScout, FakeIntercom)
}

# The credentials each fake expects, as a tenant's `connectors.<vendor>.credentials` would hold them.
CREDENTIALS: dict[str, dict[str, str]] = {
    "zendesk": {"email": "bot@example.com", "api_token": "zd-token"},
    "freshdesk": {"api_key": "fd-key"},
    "zammad": {"token": "zm-token"},
    "helpscout": {"app_id": "hs-app", "app_secret": "hs-secret"},
    "intercom": {"access_token": "ic-token", "admin_id": "991"},
}

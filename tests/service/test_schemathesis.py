"""Schemathesis against the live API over HTTP: every operation, signed webhooks, no server error.

The API runs as its own uvicorn process (the command line `triage serve` uses) on 127.0.0.1 and
PostgreSQL, which refuses more than SQLite does (NUL, integers past 32 bits). A request auth signs each
webhook request's final bytes as its vendor does and sends the tenant's API key on the other routes;
hooks aim tenants and ids at what exists, so generated bodies reach normalising and storage instead of
stopping at 401 or 404. The figures are printed at the end of the run (tests/service/conftest.py).
"""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, text

from service.cli import api_command
from service.domain import ActionStatus
from service.embedded import free_port, start_redis, wait_for_port
from service.main import create_app
from service.storage.db import session_factory
from service.storage.models import ActionRow
from tests.conftest import make_settings
from tests.service.assist.scenario import build_world
from tests.service.tally import TALLY, Tally
from tests.service.webhooks.conftest import tenants_document
from tests.service.webhooks.signing import SECRETS, signed_headers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TENANT = "acme"
API_KEY = "acme-key"  # acme's key in tenants_document
# Generated cases per operation in the fuzzing phase; the examples and coverage phases add their own.
FUZZ_CASES = 50
MIN_CASES = 1_000
# No 5xx; every status, content type, header and body as documented; and a request the schema calls
# valid is not refused for its content (an unknown id or tenant may still get 401, 404 or 409).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# 413: the body limit is in bytes, which no JSON schema can state; a valid body can pass it.
ACCEPTED_STATUSES = ["2xx", "401", "404", "409", "413"]
WEBHOOKS = "/v1/webhooks/"
TABLES = "tickets, messages, triage_results, decisions, actions, inbound_deliveries, feedback"

# The document the live app serves, built by the same code; the fixture checks that they are equal.
SPEC = create_app(make_settings("sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(
    copy.deepcopy(SPEC),
    config=schemathesis.Config.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_STATUSES}}}
    ),
)


@dataclass
class Targets:
    """Ids that exist in the live database, so generated requests also reach the code behind a 404."""

    ticket_ids: list[str] = field(default_factory=list)
    action_ids: list[str] = field(default_factory=list)


TARGETS = Targets()


class SignedRequests(requests.auth.AuthBase):
    """Sign a webhook request's final bytes as its vendor does; send the API key on every other route."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = requests.utils.urlparse(request.url).path
        if not path.startswith(WEBHOOKS):
            request.headers["X-API-Key"] = API_KEY
            return request
        vendor = path[len(WEBHOOKS) :].split("/")[0]
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else body
        headers = signed_headers(vendor, raw, event=_helpscout_event(raw))
        del headers["Content-Type"]  # the case's own stays
        request.headers.update(headers)
        return request


def _helpscout_event(body: bytes) -> str:
    """Pick a Help Scout event by the body, so both triaged events and an ignored one are sent."""
    events = ("convo.created", "convo.customer.reply.created", "convo.assigned")
    return events[hashlib.sha256(body).digest()[0] % len(events)]


schema.auth.set_from_requests(SignedRequests())


@schema.hook
def map_case(context: Any, case: Any) -> Any:
    """Send webhooks to the tenant whose secrets sign them (the coverage phase runs only this hook).

    A tenant over the documented 64 characters is left as generated, so its 422 is exercised too.
    """
    for container in (case.path_parameters, case.query):
        # Fuzzed path parameters arrive percent-encoded; the limit is on the decoded name.
        if container is not None and "tenant" in container and len(unquote(str(container["tenant"]))) <= 64:
            container["tenant"] = TENANT
    if case.operation.path.startswith(WEBHOOKS) and "{tenant}" not in case.operation.path:
        case.query = {"tenant": TENANT, **(case.query or {})}
    return case


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Use a stored ticket or action id in about half of the cases, the generated one otherwise."""
    for name, ids in (("ticket_id", TARGETS.ticket_ids), ("action_id", TARGETS.action_ids)):
        if path_parameters and name in path_parameters and ids:
            stored = [{**path_parameters, name: value} for value in ids]
            return st.sampled_from([path_parameters] * len(stored) + stored)
    return st.just(path_parameters)


# What makes each vendor's event one we triage, where the body schema allows any string: without it
# nearly every generated event is verified and then ignored (200), and normalising is never reached.
def _triaged(vendor: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return variants of a generated webhook body that name an event this service triages."""
    if vendor == "freshdesk":
        return [{**body, "event": event} for event in ("ticket_created", "customer_reply")]
    if vendor == "intercom":
        user = {"type": "user"}
        created = _with(body, ("data", "item", "source", "author"), user)
        replied = _with(
            body, ("data", "item", "conversation_parts", "conversation_parts", -1, "author"), user
        )
        return [
            {**variant, "topic": topic}
            for variant, topic in (
                (created, "conversation.user.created"),
                (replied, "conversation.user.replied"),
            )
            if variant is not None
        ]
    if vendor == "zammad":
        article = body.get("article") if isinstance(body.get("article"), dict) else {"body": "Where is it?"}
        return [{**body, "article": {**article, "sender": {"name": "Customer"}, "internal": False}}]
    if vendor == "helpscout":
        # The body schema no longer requires threads or a customer one (one shape for every event,
        # the event is in a header), so add a customer thread with text where the body has none.
        embedded = body.get("_embedded") if isinstance(body.get("_embedded"), dict) else {}
        threads = embedded.get("threads")
        if not (isinstance(threads, list) and threads and all(isinstance(t, dict) for t in threads)):
            threads = [{}]
        customer = [
            {**thread, "type": "customer", "body": thread.get("body") or "Where is my order?"}
            for thread in threads
        ]
        return [{**body, "_embedded": {**embedded, "threads": customer}}]
    return []


def _with(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """Return a copy of `value` with the item at `path` (keys and list indexes) set, or None if absent."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict) and (key in value or not rest):
        inner = _with(value.get(key), rest, new)
        return None if inner is None else {**value, key: inner}
    if isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
        inner = _with(value[key], rest, new)
        if inner is None:
            return None
        changed = list(value)
        changed[key] = inner
        return changed
    return None


BODY_SCHEMAS = {
    path: Draft202012Validator(
        {**SPEC, **operations["post"]["requestBody"]["content"]["application/json"]["schema"]}
    )
    for path, operations in SPEC["paths"].items()
    if path.startswith(WEBHOOKS)
}


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Make about half of the valid webhook bodies events this service triages, staying valid."""
    path = context.operation.path
    if not path.startswith(WEBHOOKS) or not isinstance(body, dict) or not BODY_SCHEMAS[path].is_valid(body):
        return st.just(body)  # a body meant to be invalid stays as generated
    variants = [
        v for v in _triaged(path[len(WEBHOOKS) :].split("/")[0], body) if BODY_SCHEMAS[path].is_valid(v)
    ]
    return st.sampled_from([body] * len(variants) + variants) if variants else st.just(body)


@pytest.fixture(scope="module")
def live_api(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the API as `triage serve` does, on PostgreSQL and a Redis of its own, with a triaged ticket."""
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text(yaml.safe_dump(tenants_document(SECRETS)))
    _store_targets(postgres_server)
    redis, redis_url = start_redis(tmp_path / "redis")
    port = free_port()
    env = {
        **os.environ,
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_DATA_DIR": str(tmp_path / "data"),
        "TRIAGE_DATABASE_URL": postgres_server,
        "TRIAGE_REDIS_URL": redis_url,
        "TRIAGE_TENANTS_FILE": str(tenants_file),
    }
    log = tmp_path / "api.log"
    server_settings = make_settings(postgres_server, redis_url=redis_url, tenants_file=tenants_file)
    with log.open("wb") as out:
        api = subprocess.Popen(
            api_command("127.0.0.1", port, server_settings), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=30)
        assert httpx.get(f"{url}/openapi.json").json() == SPEC, "the live app serves another schema"
        yield url
    finally:
        api.terminate()
        api.wait(timeout=20)
        redis.terminate()
        redis.wait(timeout=20)
        _empty(postgres_server)
        print(f"API log, last lines:\n{log.read_text(errors='replace')[-4000:]}")


def _store_targets(database_url: str) -> None:
    """Store a triaged ticket with drafts and a dead-lettered action for the hooks to aim at."""
    sessions = session_factory(database_url)
    world = build_world(sessions, tenant=TENANT)
    with sessions.begin() as session:
        action = ActionRow(
            idempotency_key="schemathesis-dead-1",
            ticket_id=world.ticket_id,
            tenant=TENANT,
            revision=1,
            connector="webhook",
            kind="ticket.triaged",
            # What the outbox writes (workers/outbox.py): an empty payload now means retention removed
            # it, and such an action is refused replay (409), so no replay could ever succeed.
            payload={
                "action": "ticket.triaged",
                "rule": "always",
                "reason": "every ticket is tagged",
                "params": {"tags": ["billing"]},
                "triage": {},
            },
            status=ActionStatus.DEAD,
            attempts=5,
        )
        session.add(action)
        session.flush()
        TARGETS.action_ids[:] = [action.id]
    TARGETS.ticket_ids[:] = [world.ticket_id, world.earlier_id]


def _empty(database_url: str) -> None:
    """Leave the shared test database empty, as the `postgres_url` fixture does."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES}"))
    engine.dispose()


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    counted = Tally(operations=sum(1 for _ in schema.get_all_operations()))
    request.config.stash[TALLY] = counted
    yield counted
    assert counted.server_errors == 0, counted.summary()[0]
    if len(counted.statuses) == counted.operations:  # the whole schema ran, not a -k selection
        assert counted.cases >= MIN_CASES, counted.summary()[0]
    # Signing, the API key and the tenant hooks work for every operation: some request got through.
    assert counted.without_success() == []


@schema.parametrize()
@settings(max_examples=FUZZ_CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_response_as_documented(case: Any, live_api: str, tally: Tally) -> None:
    label = case.operation.label
    response = case.call(base_url=live_api)
    tally.record(label, response.status_code)
    try:
        case.validate_response(response, checks=CHECKS)
    except (AssertionError, BaseExceptionGroup) as exc:  # one failure, or schemathesis's group of them
        tally.failures.setdefault(label, set()).add(str(exc).strip().splitlines()[0])
        raise

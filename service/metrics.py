"""Every metric the API process exports, the scrape-time queue collector and the `/metrics` endpoint.

Naming follows Prometheus conventions: a `triage_` prefix, base units (`_seconds`, `_bytes`), `_total` on
counters. Labels are bounded: tenant names come from configuration, connectors from the registered
vendors, handlers from route templates. A ticket id, a text or an e-mail address never becomes a label.

Operators read these from Grafana (deploy/grafana/dashboards) and the alert rules in
deploy/prometheus/rules; docs/observability.md lists every series.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import redis
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response, status
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.domain import ActionStatus, TicketStatus
from service.storage.models import ActionRow, ErasureRow, TicketRow
from service.tenants import DEFAULT_TENANT

if TYPE_CHECKING:
    from service.config import Settings
    from service.tenants import TenantRegistry

log = logging.getLogger(__name__)

# `_created` samples would be ingested as extra series of their own; rates do not need them.
disable_created_metrics()

P = ParamSpec("P")
R = TypeVar("R")

# The queues Celery's Redis transport keeps as lists named after the queue (service.queue).
QUEUES = ("inference", "actions")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOK_OUTCOMES = ("accepted", "duplicate", "ignored", "bad_signature", "invalid")
# Outbox states worth watching; delivered rows only grow and are counted by the workers instead.
OUTBOX_STATES = (ActionStatus.PENDING, ActionStatus.DELIVERING, ActionStatus.DEAD)
WAITING_STATES = (TicketStatus.ACCEPTED, TicketStatus.TRIAGING)

# HTTP

HTTP_REQUESTS = Counter(
    "triage_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["handler", "method", "code"],
)
HTTP_REQUEST_DURATION = Histogram(
    "triage_http_request_duration_seconds",
    "Time from the first byte of a request to the end of its response, by route template.",
    ["handler", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_REQUEST_SIZE = Histogram(
    "triage_http_request_size_bytes",
    "Request body bytes read, by route template (bodies over the limit stop counting at it).",
    ["handler"],
    buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576),
)

# Intake

TICKETS_RECEIVED = Counter(
    "triage_tickets_received_total",
    "Tickets and replies through the intake seam, by outcome: queued, deferred (stored, left for the "
    "sweep because the queue was unreachable), duplicate (nothing new), error.",
    ["tenant", "connector", "outcome"],
)
INTAKE_DURATION = Histogram(
    "triage_intake_duration_seconds",
    "Time to store one ticket and enqueue it for triage.",
    ["connector"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WEBHOOKS_RECEIVED = Counter(
    "triage_webhooks_received_total",
    "Helpdesk webhooks by connector and outcome: accepted, duplicate, ignored, bad_signature, invalid, "
    "conflict.",
    ["connector", "outcome"],
)

# Feedback loop

FEEDBACK = Counter(
    "triage_feedback_total",
    "Agents' verdicts on what a model version produced: accepted (a draft sent as is, a level confirmed) "
    "or overridden (a draft edited or rejected, a level or priority corrected).",
    ["tenant", "model_version", "verdict"],
)


def record_webhook(connector: str, outcome: str) -> None:
    """Count one webhook delivery of a registered connector."""
    WEBHOOKS_RECEIVED.labels(connector=connector, outcome=outcome).inc()


def record_feedback(*, tenant: str, model_version: str | None, verdict: str) -> None:
    """Count one agent verdict (accepted or overridden) on what `model_version` produced."""
    FEEDBACK.labels(tenant=tenant, model_version=model_version or "unknown", verdict=verdict).inc()


def observe_intake(submit: Callable[P, R]) -> Callable[P, R]:
    """Wrap the intake seam to count tickets by outcome and time them, whatever the connector."""
    signature = inspect.signature(submit)

    @wraps(submit)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs)
        delivery = bound.arguments.get("delivery")
        tenant = getattr(bound.arguments.get("ticket"), "tenant", DEFAULT_TENANT)
        # The generic JSON API has no delivery id; webhooks name their connector in it.
        connector = delivery.connector if delivery else "api"
        outcome = "error"
        started = time.perf_counter()
        try:
            result = submit(*args, **kwargs)
            if getattr(result, "duplicate", False):
                outcome = "duplicate"
            else:
                outcome = "queued" if getattr(result, "queued", False) else "deferred"
            return result
        finally:
            INTAKE_DURATION.labels(connector=connector).observe(time.perf_counter() - started)
            TICKETS_RECEIVED.labels(tenant=tenant, connector=connector, outcome=outcome).inc()

    return wrapper


class HTTPMetricsMiddleware:
    """Count and time every HTTP request by route template, and measure the body bytes read."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received = 0
        code = 500  # an exception before the response starts becomes a 500 outside this middleware

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def capturing_send(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, counting_receive, capturing_send)
        finally:
            # The route template, never the raw path: a path holds ticket ids and is unbounded.
            handler = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in HTTP_METHODS else "other"
            HTTP_REQUESTS.labels(handler=handler, method=method, code=str(code)).inc()
            HTTP_REQUEST_DURATION.labels(handler=handler, method=method).observe(
                time.perf_counter() - started
            )
            if method not in ("GET", "HEAD", "OPTIONS"):
                HTTP_REQUEST_SIZE.labels(handler=handler).observe(received)


class QueueCollector:
    """Read queue depth from Redis and waiting tickets and the outbox from the database at scrape time.

    The API exports these, not the workers: when every worker is down the queue still has to be
    seen growing.
    """

    def __init__(self, redis_url: str, sessions: sessionmaker[Session]):
        self.sessions = sessions
        self.redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)

    def collect(self) -> Iterator[Metric]:
        """Yield queue depth, the oldest waiting ticket's age, outbox sizes and dependency health."""
        up = GaugeMetricFamily(
            "triage_dependency_up",
            "1 when the API could read the dependency at scrape time.",
            labels=["dependency"],
        )
        depth = GaugeMetricFamily(
            "triage_queue_depth", "Messages waiting in a Celery queue (Redis LLEN).", labels=["queue"]
        )
        try:
            pipe = self.redis.pipeline(transaction=False)
            for queue in QUEUES:
                pipe.llen(queue)
            for queue, length in zip(QUEUES, pipe.execute(), strict=True):
                depth.add_metric([queue], float(length))
            up.add_metric(["redis"], 1.0)
        except redis.RedisError as exc:
            log.warning("queue depth unavailable: %s", type(exc).__name__)
            up.add_metric(["redis"], 0.0)
        yield depth

        age = GaugeMetricFamily(
            "triage_queue_oldest_ticket_age_seconds",
            "Age of the oldest ticket revision waiting for triage (accepted or claimed, not decided); 0 when "
            "none waits.",
        )
        outbox = GaugeMetricFamily(
            "triage_outbox_actions",
            "Outbox actions not delivered yet, by status: pending, delivering, dead (dead-lettered).",
            labels=["status"],
        )
        try:
            with self.sessions() as session:
                oldest = session.scalar(
                    select(func.min(TicketRow.updated_at)).where(
                        TicketRow.status.in_(WAITING_STATES), TicketRow.triaged_revision < TicketRow.revision
                    )
                )
                counts = dict(
                    session.execute(
                        select(ActionRow.status, func.count())
                        .where(ActionRow.status.in_(OUTBOX_STATES))
                        .group_by(ActionRow.status)
                    ).all()
                )
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("database metrics unavailable: %s", type(exc).__name__)
            up.add_metric(["database"], 0.0)
        else:
            age.add_metric([], _age_seconds(oldest))
            for state in OUTBOX_STATES:
                outbox.add_metric([state.value], float(counts.get(state, 0)))
            up.add_metric(["database"], 1.0)
            yield age
            yield outbox
        yield up


class ErasureCollector:
    """Count erasures and the rows they removed, per tenant, from the audit table at scrape time.

    Erasures run in the API or in `triage erase`, a short-lived process with no /metrics of its own;
    the audit table sees both. Every configured tenant has its series, at zero until its first one.
    """

    def __init__(self, sessions: sessionmaker[Session], tenants: Iterable[str] = ()):
        self.sessions = sessions
        self.tenants = set(tenants)

    def collect(self) -> Iterator[Metric]:
        """Yield erasure requests and erased rows per tenant; nothing when the database cannot be read."""
        try:
            with self.sessions() as session:
                totals = {
                    tenant: (int(requests), int(rows or 0))
                    for tenant, requests, rows in session.execute(
                        select(ErasureRow.tenant, func.count(), func.sum(ErasureRow.rows_removed)).group_by(
                            ErasureRow.tenant
                        )
                    )
                }
        except Exception as exc:  # the queue collector reports the database as down
            log.warning("erasure metrics unavailable: %s", type(exc).__name__)
            return
        requests = CounterMetricFamily(
            "triage_erasures",
            "Erasure requests recorded (API and `triage erase`), including repeats that removed nothing.",
            labels=["tenant"],
        )
        rows = CounterMetricFamily(
            "triage_erased_rows", "Rows removed by erasure requests.", labels=["tenant"]
        )
        for tenant in sorted(self.tenants | set(totals)):
            count, removed = totals.get(tenant, (0, 0))
            requests.add_metric([tenant], float(count))
            rows.add_metric([tenant], float(removed))
        yield requests
        yield rows


def _age_seconds(since: datetime | None) -> float:
    if since is None:
        return 0.0
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - since).total_seconds())


class _ProcessRegistry:
    """Forward the default registry, where this single process keeps its metrics."""

    def collect(self) -> Iterable[Metric]:
        """Yield every metric of the default registry."""
        return REGISTRY.collect()


def build_registry(
    settings: Settings, sessions: sessionmaker[Session], tenants: Iterable[str] = ()
) -> CollectorRegistry:
    """Return what `/metrics` serves: this process's (or all API processes') metrics, queue, erasures."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several API processes (uvicorn --workers): each writes its own files; sum them here.
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(QueueCollector(settings.redis_url, sessions))
    registry.register(ErasureCollector(sessions, tenants))
    return registry


def _initialise_series(connectors: Iterable[str]) -> None:
    """Create every connector's webhook series at zero, so rates and ratios exist before the first event."""
    for connector in connectors:
        for outcome in WEBHOOK_OUTCOMES:
            WEBHOOKS_RECEIVED.labels(connector=connector, outcome=outcome)


def require_metrics_access(
    request: Request,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Let the scrape through when metrics are public, or when it presents the default tenant's API key.

    Metrics name every tenant, so only the operator's (default) tenant may read them; another tenant's
    key is refused like a wrong one.
    """
    settings: Settings = request.app.state.settings
    if settings.metrics_public:
        return
    presented = x_api_key
    if presented is None and authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    tenants: TenantRegistry = request.app.state.tenants
    tenant = tenants.by_api_key(presented) if presented else None
    if tenant is None or tenant.name != DEFAULT_TENANT:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="metrics need the default tenant's API key (or TRIAGE_METRICS_PUBLIC=true)",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    include_in_schema=False,
    dependencies=[Depends(require_metrics_access)],
    summary="Prometheus metrics",
)
def metrics(request: Request) -> Response:
    """Serve every metric of the API in the Prometheus text format."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add request metrics and `/metrics` to the app; call after the other middleware so it wraps them."""
    from service.webhooks import VENDORS

    app.state.metrics_registry = build_registry(
        app.state.settings, app.state.sessions, [tenant.name for tenant in app.state.tenants]
    )
    _initialise_series(VENDORS)
    app.add_middleware(HTTPMetricsMiddleware)
    app.include_router(router)

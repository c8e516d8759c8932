"""Every metric the worker processes export, and the worker's own `/metrics` server.

Celery's prefork children write their samples to files under `PROMETHEUS_MULTIPROC_DIR` (set by the start
script: `triage worker`, `triage serve` or the container entrypoint); the worker's main process sums
them and serves `/metrics` on `TRIAGE_WORKER_METRICS_PORT`. Labels are bounded: tenants from
configuration, connectors and actions from code, model versions from the artefacts, never a ticket id
or any text.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery import signals
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric

from service.config import get_settings
from service.domain import ActionStatus, Decision, Triage
from service.lifecycle.retention import RetentionReport

log = logging.getLogger(__name__)

# `_created` samples would be ingested as extra series of their own; rates do not need them.
disable_created_metrics()

C = TypeVar("C")

# Time to triage

TIME_TO_TRIAGE = Histogram(
    "triage_time_to_triage_seconds",
    "From intake of a ticket revision (the ticket's creation, or the reply that reopened it) to its "
    "committed decision.",
    ["tenant"],
    buckets=(0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)

# Inference

INFERENCE_BATCH_TEXTS = Histogram(
    "triage_inference_batch_texts",
    "Texts in one inference batch (the batch size).",
    ["model_version"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
INFERENCE_DURATION = Histogram(
    "triage_inference_duration_seconds",
    "Wall time of one inference batch.",
    ["model_version"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
INFERENCE_BATCH_TOKENS = Histogram(
    "triage_inference_batch_tokens",
    "Tokens in one inference batch, as the model's tokenizer counted them.",
    ["model_version"],
    buckets=(64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
)
MODEL_LOADED = Gauge(
    "triage_model_loaded",
    "1 while a live worker process holds this model version on this device.",
    ["model_version", "device"],
    multiprocess_mode="livemax",
)
PROCESSES_WARM = Gauge(
    "triage_worker_processes_warm",
    "Live worker processes that loaded everything a triage task reads (model, policy, draft ranker) "
    "before taking any task.",
    ["model_version", "device"],
    multiprocess_mode="livesum",
)
MODEL_LOAD_SECONDS = Gauge(
    "triage_model_load_seconds",
    "How long the loaded model took to load (the slowest live process).",
    ["model_version", "device"],
    multiprocess_mode="livemax",
)
MODEL_LOAD_FAILURES = Counter("triage_model_load_failures_total", "Model loads that raised an error.")

# Tasks

TASKS = Counter(
    "triage_tasks_total",
    "Celery tasks finished, by task name and outcome: success, failure, retry.",
    ["task", "outcome"],
)
TASK_DURATION = Histogram(
    "triage_task_duration_seconds",
    "Run time of one Celery task.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
TICKETS_PROCESSED = Counter(
    "triage_tickets_processed_total",
    "Tickets a triage task handled, by outcome: triaged, skipped (already done), failed (parked after "
    "too many tries).",
    ["outcome"],
)
TICKET_RETRIES = Counter(
    "triage_ticket_retries_total",
    "Ticket revisions picked up again because an earlier try did not finish (a redelivery).",
)

# Decisions

DECISIONS = Counter("triage_decisions_total", "Routing decisions committed.", ["tenant", "model_version"])
FRUSTRATION_LEVEL = Counter(
    "triage_frustration_level_total",
    "Triaged tickets by frustration level (none, mild, moderate, severe; unscored: unsupported language).",
    ["tenant", "model_version", "level"],
)
URGENCY_LEVEL = Counter(
    "triage_urgency_level_total",
    "Triaged tickets by urgency level (low, normal, high, critical; unscored: unsupported language).",
    ["tenant", "model_version", "level"],
)
ACTIONS_DECIDED = Counter(
    "triage_actions_decided_total",
    "Actions the routing policy chose, by action and mode: live, or shadow (recorded, never written).",
    ["tenant", "model_version", "action", "mode"],
)

# Outbound

WRITEBACKS = Counter(
    "triage_writebacks_total",
    "Write-back attempts by connector, action and outcome: delivered, failed (tried again later), "
    "dead_lettered (out of retries or refused for good).",
    ["connector", "action", "outcome"],
)
WRITEBACK_DURATION = Histogram(
    "triage_writeback_duration_seconds",
    "Time of one write-back call to a helpdesk or webhook receiver.",
    ["connector"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WRITEBACK_RETRIES = Counter(
    "triage_writeback_retries_total", "Write-back attempts after the first try of an action.", ["connector"]
)
HELPDESK_RATE_LIMITED = Counter(
    "triage_helpdesk_rate_limited_total",
    "Write-backs the helpdesk answered with 429 Too Many Requests.",
    ["connector"],
)

# Data lifecycle (service/lifecycle/retention.py, run by the `triage.retention` beat task)

RETENTION_PURGED_ROWS = Counter(
    "triage_retention_purged_rows_total",
    "Rows whose customer text the retention job removed: messages deleted; tickets, triage results, "
    "decisions, outbox actions and feedback stripped of text.",
    ["tenant"],
)
DELIVERY_IDS_PURGED = Counter(
    "triage_delivery_ids_purged_total",
    "Inbound delivery ids deleted once older than the delivery window (TRIAGE_DELIVERY_RETENTION_HOURS).",
    ["tenant"],
)
RETENTION_RUNS = Counter(
    "triage_retention_runs_total",
    "Retention runs by outcome: complete, partial (stopped at its time budget with work left; the next "
    "run carries on), failed.",
    ["outcome"],
)
RETENTION_LAST_SUCCESS = Gauge(
    "triage_retention_last_success_timestamp_seconds",
    "Unix time at which the last retention run ended without an error.",
    multiprocess_mode="max",
)
RETENTION_OUTCOMES = ("complete", "partial", "failed")

WRITEBACK_OUTCOMES = {
    ActionStatus.DELIVERED: "delivered",
    ActionStatus.PENDING: "failed",
    ActionStatus.DEAD: "dead_lettered",
}


class _Outcome(Protocol):
    @property
    def status(self) -> str: ...


def observe_model_load(load: Callable[[], C], *, default_device: str) -> C:
    """Build a classifier with `load`, load its weights now if it can, and record how long that took."""
    started = time.perf_counter()
    try:
        classifier = load()
        # A classifier that loads lazily offers `load()`, so the time measured is the real load.
        warm_up = getattr(classifier, "load", None)
        if callable(warm_up):
            warm_up()
    except Exception:
        MODEL_LOAD_FAILURES.inc()
        raise
    seconds = time.perf_counter() - started
    labels = {
        "model_version": str(getattr(classifier, "model_version", "unknown")),
        # The resolved device (cuda:0, cpu) once loaded; `auto` would tell an operator nothing.
        "device": str(getattr(classifier, "device_in_use", getattr(classifier, "device", default_device))),
    }
    MODEL_LOAD_SECONDS.labels(**labels).set(seconds)
    MODEL_LOADED.labels(**labels).set(1)
    log.info("model %s loaded on %s in %.1f s", labels["model_version"], labels["device"], seconds)
    return classifier


def mark_process_warm(classifier: Any, *, default_device: str) -> None:
    """Count this process as warm: it holds the model and everything else a task reads."""
    PROCESSES_WARM.labels(
        model_version=str(getattr(classifier, "model_version", "unknown")),
        device=str(getattr(classifier, "device_in_use", getattr(classifier, "device", default_device))),
    ).set(1)


def observe_inference(classifier: Any, *, texts: int, seconds: float) -> None:
    """Record one inference batch; tokens come from `last_batch_tokens` when the classifier counts them."""
    version = str(getattr(classifier, "model_version", "unknown"))
    INFERENCE_BATCH_TEXTS.labels(model_version=version).observe(texts)
    INFERENCE_DURATION.labels(model_version=version).observe(seconds)
    tokens = getattr(classifier, "last_batch_tokens", None)
    if isinstance(tokens, int):
        INFERENCE_BATCH_TOKENS.labels(model_version=version).observe(tokens)


def observe_triaged(triage: Triage, decision: Decision, *, tenant: str, waiting_since: datetime) -> None:
    """Record a committed decision: time to triage, levels and the actions chosen."""
    if waiting_since.tzinfo is None:
        waiting_since = waiting_since.replace(tzinfo=UTC)
    TIME_TO_TRIAGE.labels(tenant=tenant).observe(
        max(0.0, (datetime.now(UTC) - waiting_since).total_seconds())
    )
    version = triage.model_version
    DECISIONS.labels(tenant=tenant, model_version=version).inc()
    frustration = triage.frustration.level if triage.frustration else "unscored"
    urgency = triage.urgency.level if triage.urgency else "unscored"
    FRUSTRATION_LEVEL.labels(tenant=tenant, model_version=version, level=frustration).inc()
    URGENCY_LEVEL.labels(tenant=tenant, model_version=version, level=urgency).inc()
    for planned in decision.actions:
        ACTIONS_DECIDED.labels(
            tenant=tenant,
            model_version=version,
            action=planned.kind.value,
            mode="shadow" if planned.shadow else "live",
        ).inc()


def count_ticket_outcomes(outcomes: Iterable[_Outcome]) -> None:
    """Count what a triage task did with each ticket."""
    for outcome in outcomes:
        TICKETS_PROCESSED.labels(outcome=outcome.status).inc()


def observe_writeback(*, connector: str, action: str, status: str, attempt: int, rate_limited: bool) -> None:
    """Record one write-back attempt and where it left the action."""
    WRITEBACKS.labels(
        connector=connector, action=action, outcome=WRITEBACK_OUTCOMES.get(ActionStatus(status), "failed")
    ).inc()
    if attempt > 1:
        WRITEBACK_RETRIES.labels(connector=connector).inc()
    if rate_limited:
        HELPDESK_RATE_LIMITED.labels(connector=connector).inc()


def observe_retention(report: RetentionReport | None) -> None:
    """Record one retention run: rows and delivery ids removed per tenant, its outcome, when it ended.

    Every tenant's series is touched, at zero if nothing was due, so rates exist from the first run.
    None records a run that raised.
    """
    for outcome in RETENTION_OUTCOMES:
        RETENTION_RUNS.labels(outcome=outcome)
    if report is None:
        RETENTION_RUNS.labels(outcome="failed").inc()
        return
    for tenant in report.tenants | set(report.delivery_ids):
        RETENTION_PURGED_ROWS.labels(tenant=tenant).inc(report.purged_rows[tenant])
        DELIVERY_IDS_PURGED.labels(tenant=tenant).inc(report.delivery_ids[tenant])
    RETENTION_RUNS.labels(outcome="complete" if report.finished else "partial").inc()
    RETENTION_LAST_SUCCESS.set(time.time())


# Celery hooks

_task_started: dict[str, float] = {}


def _task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _task_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", None) or "unknown"
    started = _task_started.pop(task_id or "", None)
    if started is not None:
        TASK_DURATION.labels(task=name).observe(time.perf_counter() - started)
    TASKS.labels(task=name, outcome=(state or "unknown").lower()).inc()


def _process_exited(pid: int | None = None, **_: Any) -> None:
    # Drop the exited child's live gauges (model loaded); its counters stay summed, as they should.
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


class _Pool:
    """What the worker's main process knows of its pool, for readiness: set once the worker is ready."""

    processes: int | None = None
    needs_model = True


def _worker_ready(sender: Any = None, **_: Any) -> None:
    # Sent in the main process once every bootstep started; `auto` concurrency is resolved by then.
    controller = getattr(sender, "controller", None)
    pool = getattr(controller, "pool_cls", None)
    prefork = pool is None or "prefork" in getattr(pool, "__module__", str(pool))
    # A threads pool loads the model once, in the worker process itself.
    _Pool.processes = int(getattr(controller, "concurrency", 0) or 0) if prefork else 1
    app = getattr(sender, "app", None)
    if app is not None:
        from service.queue import QUEUE_INFERENCE

        _Pool.needs_model = QUEUE_INFERENCE in app.amqp.queues.consume_from


def readiness(directory: str | None) -> tuple[bool, dict[str, Any]]:
    """Return whether every pool process is warm (or needs no model), with the counts that say so."""
    if _Pool.processes is None:
        return False, {"status": "starting"}
    if not _Pool.needs_model:
        return True, {"status": "ready", "processes": _Pool.processes, "model": "not needed"}
    if not directory:
        return False, {"status": "unknown", "detail": "PROMETHEUS_MULTIPROC_DIR is not set"}
    warm = sum(
        sample.value
        for metric in _LiveProcessesCollector(Path(directory)).collect()
        if metric.name == "triage_worker_processes_warm"
        for sample in metric.samples
    )
    ready = warm >= _Pool.processes
    return ready, {"status": "ready" if ready else "loading", "processes": _Pool.processes, "warm": int(warm)}


def _worker_starting(**_: Any) -> None:
    settings = get_settings()
    start_metrics_server(settings.worker_metrics_port, settings.worker_metrics_host)


class _LiveProcessesCollector:
    """Sum every process's samples, first forgetting the live gauges of children that died unannounced.

    A child killed outright (out of memory, SIGKILL) never sends worker_process_shutdown, and its "model
    loaded" gauge would otherwise stay 1.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.collector = multiprocess.MultiProcessCollector(None, path=str(directory))

    def collect(self) -> Iterable[Metric]:
        """Drop dead processes' live gauges, then yield the summed metrics."""
        for path in self.directory.glob("gauge_live*_*.db"):
            pid = path.stem.rsplit("_", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                multiprocess.mark_process_dead(int(pid), str(self.directory))
        return self.collector.collect()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _SilentHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: probes would fill the log."""


def start_http_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `/readyz` (200 once every pool process is warm, else 503) and metrics elsewhere."""
    metrics_app = make_wsgi_app(registry)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/readyz":
            ready, body = readiness(directory)
            status = "200 OK" if ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return metrics_app(environ, start_response)

    class Server(ThreadingWSGIServer):
        """The server class for this address's family (an IPv6 address needs AF_INET6)."""

    Server.address_family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]
    server = make_server(addr, port, app, Server, handler_class=_SilentHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="worker-metrics")
    thread.start()
    return server, thread


def start_metrics_server(port: int, addr: str = "127.0.0.1") -> None:
    """Serve `/metrics` and `/readyz` for this worker and all its forked children; port 0 serves nothing."""
    if port == 0:
        return
    registry: CollectorRegistry = REGISTRY
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_LiveProcessesCollector(Path(directory)))
    else:
        log.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set: metrics of forked worker processes are not exported; "
            "start workers with `triage worker`"
        )
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        # A second worker on the same host: it keeps working, without metrics of its own.
        log.error("worker metrics port %d unavailable: %s", port, exc)
        return
    log.info("worker metrics on http://%s:%d/metrics", addr, port)


def connect_worker_signals() -> None:
    """Hook the metrics into Celery: task outcomes, child exits, and the server in the main process."""
    signals.task_prerun.connect(_task_prerun, weak=False)
    signals.task_postrun.connect(_task_postrun, weak=False)
    signals.worker_process_shutdown.connect(_process_exited, weak=False)
    # worker_init runs in the main process before the pool forks; only `celery worker` sends it, so
    # beat and the API never open the port.
    signals.worker_init.connect(_worker_starting, weak=False)
    signals.worker_ready.connect(_worker_ready, weak=False)

"""`triage bench pipeline`: the whole path against the raw classifier, and intake alone, in one run.

One run measures, on the same seeded tickets: the classifier alone on the texts the workers will score
(the ceiling); the embedded stack end to end (tickets/s until every ticket has a decision, intake to
decision latency, peak RSS per process); and intake alone (`POST /v1/tickets` and signed Standard
Webhooks deliveries) on SQLite and PostgreSQL. The machine is shared and noisy, so the table prints
ratios between figures of this one run.
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from service.storage.models import DecisionRow, TicketRow
from service.webhooks.standard import sign
from workers.bench.load import LoadResult, Request, percentile, run_load
from workers.bench.stack import API_KEY, Stack, database

INTAKE_TARGET_PER_SECOND = 1000.0
PIPELINE_TARGET_RATIO = 0.85
PER_CORE_TARGET = 40.0

_FALLBACK_ONE_LINERS = [
    "How do I change my delivery address?",
    "I was charged twice for my subscription this month.",
    "My card payment was declined at the shop.",
    "Can I get a copy of last month's invoice?",
    "The transfer I made yesterday has not arrived.",
]
_FALLBACK_SENTENCES = [
    "The app crashes every time I open the billing page.",
    "This is the third time I am writing and nobody answers.",
    "Our production dashboard has been down since 9am and customers cannot log in.",
    "I need the invoice before Friday or our finance team cannot pay you.",
    "Thanks for the quick help yesterday, everything works now.",
    "Honestly this is ridiculous, I have been waiting for a week.",
]


@dataclass(frozen=True)
class BenchTicket:
    """One ticket as the bench posts it."""

    subject: str
    body: str
    requester_id: str

    def text(self) -> str:
        """Return the text the worker scores for it (subject and the one customer message)."""
        return f"{self.subject}\n\n{self.body}" if self.subject else self.body

    def json_body(self, external_id: str) -> dict[str, object]:
        """Return the generic ticket JSON of `POST /v1/tickets`."""
        return {
            "external_id": external_id,
            "subject": self.subject,
            "requester_id": self.requester_id,
            "messages": [{"author_role": "customer", "body": self.body}],
        }


def bench_tickets(count: int, data_dir: Path | None, seed: int = 7) -> list[BenchTicket]:
    """Build `count` tickets of mixed length with a fixed seed.

    About half are one-line banking and retail requests, a quarter Hadoop bug reports (long), and a
    quarter multi-sentence messages stitched from dev-split sentences; requesters repeat, so earlier
    tickets (history) are read as in production.
    """
    one_liners, reports, sentences = list(_FALLBACK_ONE_LINERS), [], list(_FALLBACK_SENTENCES)
    if data_dir is not None and data_dir.is_dir():
        from workers.training.data import load_splits

        splits = load_splits(data_dir)
        one_liners = [e.text for e in splits.urgency_dev if e.source in ("banking77", "bitext")]
        reports = [e.text for e in splits.urgency_dev if e.source == "hadoop_jira"]
        sentences = [e.text for e in splits.frustration_dev] + one_liners
    rng = random.Random(seed)
    requesters = [f"customer-{i}" for i in range(max(1, count // 4))]
    tickets = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.25 and reports:
            summary, _, description = rng.choice(reports).partition("\n\n")
            subject, body = summary, description.strip() or summary
        elif draw < 0.75:
            subject, body = "", rng.choice(one_liners)
        else:
            subject = rng.choice(one_liners)[:60]
            body = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 8)))
        tickets.append(BenchTicket(subject, body, rng.choice(requesters)))
    return tickets


@dataclass
class Row:
    """One line of the table: what, the figure, and its ratio against a named baseline."""

    what: str
    figure: str
    ratio: str = ""


@dataclass
class BenchReport:
    """Every figure of one run, rendered as one table."""

    heading: str
    rows: list[Row] = field(default_factory=list)

    def add(self, what: str, figure: str, ratio: str = "") -> None:
        """Append a row."""
        self.rows.append(Row(what, figure, ratio))

    def table(self) -> str:
        """Render the table."""
        width = max(len(r.what) for r in self.rows) + 2
        fig = max(len(r.figure) for r in self.rows) + 2
        lines = [self.heading, f"{'what':<{width}}{'figure':<{fig}}ratio"]
        lines += [f"{r.what:<{width}}{r.figure:<{fig}}{r.ratio}".rstrip() for r in self.rows]
        return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _latencies(result: LoadResult) -> str:
    return f"p50 {_ms(percentile(result.latencies, 0.5))}, p99 {_ms(percentile(result.latencies, 0.99))}"


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


def _score_in_process(texts: list[str], threads: int, barrier: Any, results: Any) -> None:
    """Load the classifier as a worker process does, wait for the others, then score `texts`."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from service.config import get_settings
    from workers.inference.base import load_classifier

    settings = get_settings().model_copy(update={"inference_threads": threads, "device": "cpu"})
    started = time.perf_counter()
    classifier = load_classifier(settings)
    warm_up = getattr(classifier, "load", None)
    if callable(warm_up):
        warm_up()
    classifier.predict(texts[:4])
    loaded = time.perf_counter() - started
    barrier.wait()
    started = time.perf_counter()
    for start in range(0, len(texts), 64):  # as `triage classify` reads a file: 64 lines per call
        classifier.predict(texts[start : start + 64])
    results.put((loaded, time.perf_counter() - started))


def measure_raw_classifier(
    texts: Sequence[str], *, processes: int, threads: int, log: Callable[[str], None]
) -> tuple[float, float]:
    """Return (load seconds, texts/s) of the production classifier on `texts`, laid out as the workers are.

    `processes` processes of `threads` torch threads each score equal shares at the same time: one
    process with two threads lost up to 6x to other jobs on a shared machine, which made the ratio
    against the pipeline meaningless.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    shares = [list(texts[i::processes]) for i in range(processes)]
    children = [
        context.Process(target=_score_in_process, args=(share, threads, barrier, results)) for share in shares
    ]
    for child in children:
        child.start()
    log(f"raw classifier: {processes} processes x {threads} thread(s) scoring {len(texts)} texts")
    timings = [results.get(timeout=900) for _ in children]
    for child in children:
        child.join(timeout=60)
    return max(t[0] for t in timings), len(texts) / max(t[1] for t in timings)


def _tenants_file(work_dir: Path, webhook_secret: str) -> Path:
    path = work_dir / "tenants.yaml"
    path.write_text(
        json.dumps(
            {
                "tenants": [
                    {
                        "name": "default",
                        "api_keys": [API_KEY],
                        "connectors": {"standard": {"secret": webhook_secret}},
                    }
                ]
            }
        )
    )
    return path


def ticket_requests(tickets: Sequence[BenchTicket], count: int, prefix: str) -> list[Request]:
    """Return `count` distinct `POST /v1/tickets` requests, cycling through the tickets."""
    return [
        Request(
            "/v1/tickets",
            json.dumps(tickets[i % len(tickets)].json_body(f"{prefix}-{i}")).encode(),
            (("X-API-Key", API_KEY),),
        )
        for i in range(count)
    ]


def webhook_requests(tickets: Sequence[BenchTicket], count: int, prefix: str, secret: str) -> list[Request]:
    """Return `count` signed Standard Webhooks deliveries of new tickets (signed now: 5 min to send)."""
    now = int(time.time())
    requests = []
    for i in range(count):
        body = json.dumps(
            {"type": "ticket.created", "data": tickets[i % len(tickets)].json_body(f"{prefix}-{i}")}
        ).encode()
        msg_id = f"msg_{prefix}_{i}"
        headers = (
            ("webhook-id", msg_id),
            ("webhook-timestamp", str(now)),
            ("webhook-signature", sign(secret, msg_id, now, body)),
        )
        requests.append(Request("/v1/webhooks/standard/default", body, headers))
    return requests


def _wait_for_decisions(engine: Engine, expected: int, timeout: float, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            done = connection.execute(select(func.count()).select_from(DecisionRow)).scalar_one()
        if done >= expected:
            return
        stack._check_alive()
        time.sleep(0.1)
    raise TimeoutError(f"only {done} of {expected} tickets had a decision after {timeout:.0f}s")


def _wait_worker_ready(stack: Stack, timeout: float = 300.0) -> float:
    """Wait for the worker's readiness (every process holds the model); return the seconds waited.

    A worker without a readiness endpoint (404) counts as ready once its metrics server answers.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack._check_alive()
        try:
            status = httpx.get(stack.worker_ready_url(), timeout=2).status_code
        except httpx.HTTPError:
            status = 0
        if status in (200, 404):
            return time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError("the worker did not become ready")


def run_pipeline_bench(
    *,
    tickets: int = 500,
    clients: int = 8,
    worker_processes: int = 2,
    api_workers: int = 2,
    intake_requests: int = 2000,
    intake_connections: int = 32,
    seed: int = 7,
    data_dir: Path | None = None,
    postgres_url: str | None = None,
    log: Callable[[str], None] = print,
) -> BenchReport:
    """Run every measurement in order and return the table."""
    from service.config import get_settings

    settings = get_settings()
    threads = settings.inference_threads
    cores = os.cpu_count() or 1
    corpus = bench_tickets(tickets, data_dir, seed)
    report = BenchReport(
        f"triage bench pipeline: {tickets} tickets (seed {seed}, mixed lengths), {worker_processes} worker "
        f"processes x {threads} torch thread(s), {clients} clients; intake {intake_requests} requests on "
        f"{intake_connections} connections, API {api_workers} processes; {cores} CPU cores"
    )
    load_seconds, raw = measure_raw_classifier(
        [t.text() for t in corpus], processes=worker_processes, threads=threads, log=log
    )
    report.add(
        f"raw classifier ({worker_processes}x{threads}-thread processes, evidence {settings.evidence_mode})",
        f"{raw:.1f} tickets/s",
        "1.00x (baseline)",
    )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with tempfile.TemporaryDirectory(prefix="triage-bench-", ignore_cleanup_errors=True) as tmp:
        work_dir = Path(tmp)
        tenants = _tenants_file(work_dir, secret)
        _pipeline(report, corpus, raw, work_dir, tenants, clients, worker_processes, api_workers, cores, log)
        backends = ["sqlite"] + (["postgresql"] if postgres_url else [])
        baseline: float | None = None
        for backend in backends:
            with database(backend, work_dir, postgres_url or "") as url:
                stack = Stack(work_dir, url, tenants, api_workers=api_workers)
                try:
                    stack.start()
                    for kind, build in (
                        ("/v1/tickets", lambda n, p: ticket_requests(corpus, n, p)),
                        ("signed webhook", lambda n, p: webhook_requests(corpus, n, p, secret)),
                    ):
                        run_load(stack.api_port, build(100, f"warm-{uuid.uuid4().hex[:6]}"), connections=8)
                        log(f"intake alone, {backend}, {kind}: {intake_requests} requests")
                        result = run_load(
                            stack.api_port,
                            build(intake_requests, uuid.uuid4().hex[:8]),
                            connections=intake_connections,
                        )
                        baseline = baseline or result.per_second
                        failed = sum(n for code, n in result.statuses.items() if code >= 300) + result.errors
                        report.add(
                            f"intake alone, {backend}, {kind}: req/s; latency",
                            f"{result.per_second:.0f} req/s; {_latencies(result)}"
                            + (f"; {failed} failed" if failed else ""),
                            f"{result.per_second / INTAKE_TARGET_PER_SECOND:.2f}x target 1000/s, "
                            f"{result.per_second / baseline:.2f}x SQLite /v1/tickets",
                        )
                finally:
                    stack.stop()
    if not postgres_url:
        report.add("intake alone, postgresql", "skipped: no --postgres-url")
    report.add("raw classifier load (model + detector, one process)", f"{load_seconds:.1f} s")
    return report


def _pipeline(
    report: BenchReport,
    corpus: Sequence[BenchTicket],
    raw: float,
    work_dir: Path,
    tenants: Path,
    clients: int,
    worker_processes: int,
    api_workers: int,
    cores: int,
    log: Callable[[str], None],
) -> None:
    with database("sqlite", work_dir, "") as url:
        engine = create_engine(url)
        stack = Stack(work_dir, url, tenants, api_workers=api_workers, worker_processes=worker_processes)
        try:
            started = time.perf_counter()
            stack.start()
            ready = _wait_worker_ready(stack)
            log(f"stack up in {time.perf_counter() - started:.1f}s (worker ready after {ready:.1f}s more)")
            run_load(stack.api_port, ticket_requests(corpus[:1], 1, "first"), connections=1)
            _wait_for_decisions(engine, 1, 300, stack)
            first_latency = _run_latencies(engine, "first-%")[0][0]
            log(f"first ticket decided {first_latency:.1f}s after intake; posting {len(corpus)} tickets")
            posted = run_load(
                stack.api_port, ticket_requests(corpus, len(corpus), "pipeline"), connections=clients
            )
            _wait_for_decisions(engine, len(corpus) + 1, 600, stack)
            latencies, seconds = _run_latencies(engine)
            rss = stack.peak_rss()
        finally:
            stack.stop()
            engine.dispose()
    per_second = len(corpus) / seconds
    report.add(
        f"pipeline, SQLite: tickets/s until every ticket has a decision ({worker_processes} processes)",
        f"{per_second:.1f} tickets/s",
        f"{per_second / raw:.2f}x raw (target {PIPELINE_TARGET_RATIO}x)",
    )
    report.add(
        "pipeline per CPU core",
        f"{per_second / cores:.1f} tickets/s/core",
        f"{per_second / cores / PER_CORE_TARGET:.2f}x target {PER_CORE_TARGET:.0f}",
    )
    report.add(
        "pipeline intake -> decision latency",
        f"p50 {_ms(percentile(latencies, 0.5))}, p99 {_ms(percentile(latencies, 0.99))}",
    )
    report.add(
        f"intake while workers run, {clients} clients", f"{posted.per_second:.0f} req/s; {_latencies(posted)}"
    )
    report.add("worker ready after its metrics port opened", _ms(ready))
    report.add("first ticket after ready: intake -> decision", _ms(first_latency))
    for name, peak, current in rss:
        report.add(f"RSS {name}: peak; after the run", f"{_mb(peak)}; {_mb(current)}")


def _run_latencies(engine: Engine, external_ids: str = "pipeline-%") -> tuple[list[float], float]:
    """Return intake-to-decision seconds of the matching tickets, and first intake to last decision."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(TicketRow.created_at, DecisionRow.created_at)
            .join(DecisionRow, DecisionRow.ticket_id == TicketRow.id)
            .where(TicketRow.external_id.like(external_ids))
        ).all()
    latencies = [(decided - created).total_seconds() for created, decided in rows]
    span = max(decided for _, decided in rows) - min(created for created, _ in rows)
    return latencies, span.total_seconds()

"""A real Prometheus scrapes a running API and worker; every dashboard panel and alert rule gets data.

Tickets go through in two waves, a few scrapes apart, so every counter has moved between two samples:
rates, ratios and quantiles then come out as numbers, as they do in Grafana on a live stack.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.domain import ActionStatus, TicketStatus
from service.storage.db import session_factory
from service.storage.models import ActionRow, TicketRow
from service.webhooks.standard import sign
from tests.observability import promql
from tests.observability.stack import INBOUND_SECRET, ObservedStack, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Markers drive the fake classifier: levels, an unsupported language, and (by external id) the
# receiver's 429-then-200 and 410 answers.
TICKETS = {
    "calm": "Where can I download my invoice? [frustration=0.1] [urgency=low]",
    "angry": "Third time I write about this outage! [frustration=0.95] [urgency=critical] [again]",
    "moderate": "Still waiting for an answer on my refund [frustration=0.6] [urgency=high]",
    "german": "Wo ist meine Rechnung? [lang=de]",
    "ratelimit": "Please update me on the order [frustration=0.3]",
    "gone": "Cancel my subscription please [frustration=0.2] [urgency=normal]",
}
ALLOWED_LABELS = {
    "__name__", "job", "instance", "le",
    "tenant", "connector", "level", "action", "outcome", "model_version", "device", "mode", "verdict",
    "queue", "status", "dependency", "task", "handler", "method", "code",
}  # fmt: skip
TICKET_ID = re.compile(r"[0-9a-f]{32}")


def _webhook(
    stack: ObservedStack, body: dict[str, object], *, msg_id: str, secret: str = INBOUND_SECRET
) -> int:
    raw = json.dumps(body).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, raw),
    }
    with stack.api() as client:
        return client.post("/v1/webhooks/standard/default", content=raw, headers=headers).status_code


def _settled(stack: ObservedStack) -> bool:
    """Return whether every ticket is decided and every action delivered or dead-lettered."""
    with session_factory(stack.database_url)() as session:
        waiting = session.scalar(
            select(func.count()).where(
                TicketRow.triaged_revision < TicketRow.revision, TicketRow.status != TicketStatus.FAILED
            )
        )
        open_actions = session.scalar(
            select(func.count()).where(ActionRow.status.in_([ActionStatus.PENDING, ActionStatus.DELIVERING]))
        )
    return waiting == 0 and open_actions == 0


def _wave(stack: ObservedStack, wave: int) -> None:
    """Send tickets, a reply, webhooks (good, repeated, forged, unreadable, ignored) and agent feedback."""
    ids: dict[str, str] = {}
    with stack.api() as client:
        for name, text in TICKETS.items():
            response = client.post(
                "/v1/tickets",
                json={"external_id": f"{name}-{wave}", "subject": name, "messages": [{"body": text}]},
            )
            assert response.status_code == 202, response.text
            ids[name] = response.json()["ticket_id"]
        if wave == 2:
            # A reply reopens a triaged ticket: time to triage then runs from the reply.
            reply = {"external_id": "calm-1", "messages": [{"body": "Any news? [frustration=0.5]"}]}
            assert client.post("/v1/tickets", json=reply).status_code == 202
        assert client.post("/v1/tickets", json={"external_id": "x", "messages": []}).status_code == 422
        assert client.get("/v1/tickets/unknown", headers={"X-API-Key": "wrong"}).status_code == 401

    event = {
        "type": "ticket.created",
        "data": {
            "external_id": f"wh-{wave}",
            "subject": "Login",
            "messages": [{"body": "Locked out [frustration=0.4]"}],
        },
    }
    assert _webhook(stack, event, msg_id=f"msg-{wave}") == 202
    assert _webhook(stack, event, msg_id=f"msg-{wave}") == 202  # the helpdesk retried: a duplicate
    forged = "whsec_" + "Zm9yZ2VkLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
    assert _webhook(stack, event, msg_id=f"forged-{wave}", secret=forged) == 401
    assert _webhook(stack, {"type": "ticket.created", "data": {}}, msg_id=f"bad-{wave}") == 422
    assert _webhook(stack, {"type": "ticket.merged", "data": {}}, msg_id=f"ignored-{wave}") == 200

    wait_for(lambda: _settled(stack), 60, f"wave {wave} triaged and written back")
    with stack.api() as client:
        # An agent confirms one level (accepted) and corrects another (overridden).
        confirmed = client.post(
            f"/v1/tickets/{ids['angry']}/feedback", json={"agent": "a1", "frustration": "severe"}
        )
        corrected = client.post(
            f"/v1/tickets/{ids['calm']}/feedback", json={"agent": "a2", "urgency": "high"}
        )
    assert confirmed.status_code == 201, confirmed.text
    assert corrected.status_code == 201, corrected.text


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedStack]:
    running = ObservedStack(Path(tmp_path_factory.mktemp("observed")))
    try:
        started = time.monotonic()
        running.start()
        wait_for(running.targets_up, 30, "API and worker scraped")
        print(f"stack up after {time.monotonic() - started:.1f}s")
        for wave in (1, 2):
            _wave(running, wave)
            print(f"wave {wave} settled after {time.monotonic() - started:.1f}s")
            # Two scrapes after the wave, so the counters' last samples hold everything it did.
            since = time.time() + 1.5
            wait_for(lambda since=since: running.scraped_after(since), 20, f"scrapes after wave {wave}")
        yield running
    except BaseException:
        print(running.dump_logs())
        raise
    finally:
        running.stop()


def _finite(results: list[dict[str, object]]) -> list[float]:
    values = [float(r["value"][1]) for r in results]  # type: ignore[index]
    return [v for v in values if math.isfinite(v)]


@pytest.mark.parametrize("query", promql.dashboard_queries(), ids=lambda q: q.where)
def test_every_dashboard_panel_has_data(stack: ObservedStack, query: promql.Query) -> None:
    results = stack.query(promql.substitute(query.expr))
    assert results, f"{query.where}: no series for {query.expr!r}"
    assert _finite(results), f"{query.where}: only NaN or infinite values: {results}"


@pytest.mark.parametrize("query", promql.alert_queries(), ids=lambda q: q.where)
def test_every_alert_expression_returns_series(stack: ObservedStack, query: promql.Query) -> None:
    # An alert returns nothing while all is well; in its `bool` form it returns every series it compares.
    results = stack.query(promql.with_bool(query.expr))
    assert results, f"{query.where}: no series for {promql.with_bool(query.expr)!r}"


@pytest.mark.parametrize(
    "query", [*promql.dashboard_queries(), *promql.alert_queries()], ids=lambda q: q.where
)
def test_every_metric_and_label_exists(stack: ObservedStack, query: promql.Query) -> None:
    # Catches a misspelt metric or label name that an `or ... * 0` or `or vector(0)` fallback would
    # hide. A label value may be missing for good reason: no failures, no 5xx.
    for metric, labels in promql.selectors(promql.substitute(query.expr)).items():
        series = stack.series(metric)
        assert series, f"{query.where}: no series of {metric}"
        present = {name for one in series for name in one}
        assert labels <= present, f"{query.where}: {metric} has no label {labels - present}"


@pytest.mark.parametrize("query", promql.variable_queries(), ids=lambda q: q.where)
def test_every_dashboard_variable_has_values(stack: ObservedStack, query: promql.Query) -> None:
    metric, label = promql.label_values_query(query.expr)
    values = {series.get(label) for series in stack.series(metric)} - {None}
    assert values, f"{query.where}: {metric} has no {label} label"


def test_alert_rules_evaluate_cleanly_and_dead_letters_alert(stack: ObservedStack) -> None:
    import httpx

    groups = httpx.get(f"{stack.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert set(rules) == {rule["alert"] for rule in promql.alert_rules()}
    for name, rule in rules.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
    # The stack dead-lettered the `gone-*` tickets' actions: that alert is on its way to firing.
    assert rules["TriageDeadLetters"]["state"] in ("pending", "firing")
    assert rules["TriageWorkersDown"]["state"] == "inactive"


def test_labels_are_bounded(stack: ObservedStack) -> None:
    series = stack.series('{__name__=~"triage_.+"}')
    assert len(series) > 50
    for labels in series:
        assert set(labels) <= ALLOWED_LABELS, f"unexpected label in {labels}"
        for name, value in labels.items():
            assert not TICKET_ID.search(value), f"{name}={value!r} holds an id: {labels}"
            assert "@" not in value, f"{name}={value!r} looks like an e-mail address"


def test_worker_reports_model_device_and_children(stack: ObservedStack) -> None:
    loaded = stack.query("triage_model_loaded == 1")
    assert [r["metric"]["device"] for r in loaded] == ["cpu"]
    assert loaded[0]["metric"]["model_version"] == "fake-markers-1"
    # Tasks ran in a forked child; the main process serves what the child counted.
    triaged = stack.query('sum(triage_tickets_processed_total{outcome="triaged"})')
    assert float(triaged[0]["value"][1]) >= 2 * (len(TICKETS) + 1)

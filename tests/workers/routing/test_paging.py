"""Paging: PagerDuty Events v2 and Standard Webhooks, one page per ticket, never the customer's words."""

from __future__ import annotations

import base64

from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from service.domain import Message, Ticket
from service.storage.db import session_factory
from service.storage.models import ActionRow
from service.tenants import ConnectorConfig, Tenant
from service.tickets.service import store_ticket
from tests.conftest import make_settings
from tests.workers.helpers import add_ticket
from tests.workers.routing.receiver import receiver
from tests.workers.routing.stored import triage_stored
from workers.connectors.base import OutboundAction
from workers.connectors.pager import PagerConnector, build_pager, dedup_key
from workers.connectors.registry import build_connectors
from workers.routing.policy import parse_policy_text

SECRET = "whsec_" + base64.b64encode(b"pager-test-secret-32-bytes-long!").decode()
PAGING_POLICY = parse_policy_text(
    """\
version: "p"
rules:
  - name: outage
    when: {urgency: critical}
    actions:
      raise_priority: {priority: urgent, suggest: 0.5, auto: 0.5}
      page_on_call: {suggest: 0.5, auto: 0.5}
"""
)


def action(**payload: object) -> OutboundAction:
    return OutboundAction(
        id="a1",
        idempotency_key="t1.1.pager.ticket.escalated",
        tenant="acme",
        kind="ticket.escalated",
        ticket_id="t1",
        source="zendesk",
        external_id="4711",
        attempt=1,
        payload={
            "rule": "outage",
            "reason": "outage: urgency critical (p>=critical 0.90)",
            "params": {"priority": "urgent", "page_on_call": True},
            "triage": {"urgency": {"level": "critical", "evidence": [{"text": "call me on 555-1234"}]}},
            **payload,
        },
    )


def test_pagerduty_trigger_has_routing_key_dedup_key_and_no_customer_text():
    with receiver() as server:
        pager = PagerConnector(f"{server.url}/v2/enqueue", routing_key="R0UTING", allow_private=True)
        result = pager.deliver(action())

    assert result.ok and result.status_code == 202
    [request] = server.requests
    event = request.json()
    assert request.path == "/v2/enqueue"
    assert event["routing_key"] == "R0UTING" and event["event_action"] == "trigger"
    assert event["dedup_key"] == dedup_key("acme", "t1") == "triage-acme-t1"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"].startswith("Support ticket zendesk #4711 escalated by rule outage")
    assert "555-1234" not in request.body.decode()


def test_the_same_ticket_always_pages_with_the_same_dedup_key():
    with receiver() as server:
        pager = PagerConnector(f"{server.url}/v2/enqueue", routing_key="k", allow_private=True)
        pager.deliver(action())
        pager.deliver(action(rule="another-rule"))

    assert len({r.json()["dedup_key"] for r in server.requests}) == 1


def test_webhook_format_is_signed_with_the_per_ticket_id():
    with receiver(default=(204, {}, b"")) as server:
        pager = PagerConnector(server.url, format="webhook", secret=SECRET, allow_private=True)
        assert pager.deliver(action()).ok

    [request] = server.requests
    assert request.headers["webhook-id"] == "triage-acme-t1"
    verified = Webhook(SECRET).verify(request.body, request.headers)
    assert verified["type"] == "ticket.page" and verified["data"]["priority"] == "urgent"


def test_pagerduty_400_is_permanent_and_429_is_retried_later():
    with receiver() as server:
        server.answers = [(400, {}, b'{"status":"invalid event"}'), (429, {"retry-after": "30"}, b"")]
        pager = PagerConnector(f"{server.url}/v2/enqueue", routing_key="k", allow_private=True)
        refused = pager.deliver(action())
        throttled = pager.deliver(action())

    assert refused.permanent and not refused.ok
    assert not throttled.permanent and throttled.retry_after == 30.0


def test_loopback_url_is_refused_without_the_private_opt_in():
    result = PagerConnector("http://127.0.0.1:9/v2/enqueue", routing_key="k").deliver(action())

    assert not result.ok and result.permanent and "non-public" in (result.error or "")


def test_one_page_per_ticket_across_revisions_and_only_for_paging_escalations(sqlite_url):
    sessions = session_factory(sqlite_url)
    paged = add_ticket(sessions, "[urgency=critical] Down", external_id="A")
    calm = add_ticket(sessions, "[frustration=0.1] Hello", external_id="B")
    pager = PagerConnector("https://events.pagerduty.com/v2/enqueue", routing_key="k")

    triage_stored(sessions, [paged, calm], policy=PAGING_POLICY, connectors={"pager": pager})
    with sessions.begin() as session:
        store_ticket(
            session,
            Ticket(
                source="api",
                external_id="A",
                subject="Help",
                messages=[
                    Message(author_role="customer", body="[urgency=critical] Down"),
                    Message(author_role="customer", body="[urgency=critical] Still down!"),
                ],
            ),
        )
    triage_stored(sessions, [paged], policy=PAGING_POLICY, connectors={"pager": pager})

    with sessions() as session:
        rows = session.scalars(select(ActionRow).where(ActionRow.connector == "pager")).all()
    assert [(r.ticket_id, r.revision, r.kind) for r in rows] == [(paged, 1, "ticket.escalated")]


def test_pager_comes_from_the_tenant_entry_or_the_global_settings(sqlite_url):
    tenant = Tenant(
        name="acme",
        connectors={
            "pager": ConnectorConfig(
                base_url="https://events.pagerduty.com/v2/enqueue",
                credentials={"routing_key": SecretStr("tenant-key")},
            )
        },
    )
    settings = make_settings(
        sqlite_url, pager_url="https://hooks.example.com/page", pager_format="webhook", pager_secret=SECRET
    )

    from_tenant = build_connectors(tenant, settings)["pager"]
    from_settings = build_pager(Tenant(name="default"), settings)["pager"]

    assert isinstance(from_tenant, PagerConnector) and from_tenant.routing_key == "tenant-key"
    assert isinstance(from_settings, PagerConnector) and from_settings.format == "webhook"
    assert build_pager(Tenant(name="other"), settings) == {}

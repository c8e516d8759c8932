"""A ticket posted over HTTP is stored, queued on Redis, triaged by a real Celery worker, and delivered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.storage.models import TriageRow
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANGRY = {
    "external_id": "ZD-1",
    "subject": "Still down",
    "requester_id": "cust-9",
    "messages": [{"body": "[frustration=0.95] [urgency=critical] [again] Our checkout is down again!"}],
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ticket_flows_end_to_end(backend, make_stack, receiver, request):
    database_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    stack = make_stack(database_url)
    stack.start_api()
    stack.start_worker()

    with stack.client() as client:
        assert client.get("/readyz").json() == {
            "status": "ready",
            "checks": {"database": "ok", "redis": "ok"},
        }
        accepted = client.post("/v1/tickets", json=ANGRY)
    assert accepted.status_code == 202 and accepted.json()["queued"] is True
    ticket_id = accepted.json()["ticket_id"]

    done = wait_for(
        lambda: (
            (t := stack.ticket(ticket_id))["status"] == "triaged"
            and all(a["status"] == "delivered" for a in t["actions"])
            and t
        ),
        timeout=60,
    )

    assert done["triage"]["frustration"]["level"] == "severe"
    assert done["triage"]["urgency"]["level"] == "critical"
    assert [a["kind"] for a in done["decision"]["actions"]] == [
        "ticket.triaged",
        "ticket.escalated",
        "ticket.reply_drafted",
    ]
    assert all(a["reason"] for a in done["decision"]["actions"])
    # Each event reached the receiver exactly once, correctly signed.
    assert sorted(e["type"] for e in receiver.events()) == [
        "ticket.escalated",
        "ticket.reply_drafted",
        "ticket.triaged",
    ]
    assert all(r.verified for r in receiver.requests) and len(receiver.requests) == 3
    draft = receiver.events("ticket.reply_drafted")[0]["data"]["draft"]
    assert "more than once" in draft


def test_customer_reply_triggers_re_triage(make_stack, receiver):
    stack = make_stack()
    stack.start_api()
    stack.start_worker()
    calm = {"external_id": "ZD-2", "messages": [{"body": "[frustration=0.1] How do I export invoices?"}]}
    with stack.client() as client:
        ticket_id = client.post("/v1/tickets", json=calm).json()["ticket_id"]
        wait_for(lambda: stack.ticket(ticket_id)["triaged_revision"] == 1, timeout=60)
        reply = {**calm, "messages": [*calm["messages"], {"body": "[frustration=0.9] Nobody answers!"}]}
        assert client.post("/v1/tickets", json=reply).json()["revision"] == 2

    done = wait_for(lambda: (t := stack.ticket(ticket_id))["triaged_revision"] == 2 and t, timeout=60)

    assert done["triage"]["frustration"]["level"] == "severe"
    with stack.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TriageRow)) == 2


def test_queues_stay_apart_an_actions_worker_never_runs_inference(make_stack, redis_server):
    import redis

    stack = make_stack()
    stack.start_api()
    stack.start_worker(queues="actions", beat=False)
    client = redis.Redis.from_url(redis_server.url)
    wait_for(lambda: client.exists("_kombu.binding.actions"), timeout=60)

    with stack.client() as api:
        ticket_id = api.post("/v1/tickets", json={"external_id": "Q-1", "messages": [{"body": "hi"}]}).json()[
            "ticket_id"
        ]

    # The classify message waits on the inference queue only; nothing copied it to actions.
    wait_for(lambda: client.llen("inference") == 1, timeout=10)
    assert client.llen("actions") == 0
    assert stack.ticket(ticket_id)["status"] == "accepted"
    stack.start_worker(queues="inference", beat=False)
    wait_for(lambda: stack.ticket(ticket_id)["status"] == "triaged", timeout=60)

"""Faults the pipeline must survive without losing a ticket or doubling an effect."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from service.storage.models import ActionRow, TicketRow, TriageRow
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def count(stack, model):
    with stack.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def triaged_and_delivered(stack, ticket_id):
    ticket = stack.ticket(ticket_id)
    done = ticket["status"] == "triaged" and ticket["actions"]
    return ticket if done and all(a["status"] == "delivered" for a in ticket["actions"]) else None


def test_redis_down_at_intake_stores_202_and_the_sweep_enqueues_later(make_stack, redis_server, receiver):
    stack = make_stack()
    stack.start_api()
    stack.start_worker()
    redis_server.stop()

    with stack.client() as client:
        accepted = client.post("/v1/tickets", json={"external_id": "R-1", "messages": [{"body": "hello"}]})
        ticket_id = accepted.json()["ticket_id"]
        assert accepted.status_code == 202 and accepted.json()["queued"] is False
        assert client.get("/readyz").status_code == 503
        assert stack.ticket(ticket_id)["status"] == "accepted"

    redis_server.start()

    done = wait_for(lambda: triaged_and_delivered(stack, ticket_id), timeout=90)
    assert done["triaged_revision"] == 1
    assert count(stack, TriageRow) == 1
    assert len(receiver.events("ticket.triaged")) == 1


def test_worker_killed_mid_task_triages_exactly_once_after_restart(make_stack, receiver):
    stack = make_stack()
    stack.start_api()
    worker = stack.start_worker()
    slow = {"external_id": "K-1", "messages": [{"body": "[sleep=6] [frustration=0.9] It broke again"}]}

    with stack.client() as client:
        ticket_id = client.post("/v1/tickets", json=slow).json()["ticket_id"]
    wait_for(lambda: stack.ticket(ticket_id)["status"] == "triaging", timeout=60)
    time.sleep(0.5)
    stack.kill(worker)  # SIGKILL to the worker and its pool children, mid-predict

    assert stack.ticket(ticket_id)["status"] == "triaging"
    stack.start_worker()

    wait_for(lambda: triaged_and_delivered(stack, ticket_id), timeout=120)
    # Let any redelivered copy of the message (visibility timeout, sweep) run out, then count.
    time.sleep(3)
    assert count(stack, TriageRow) == 1
    assert len(receiver.events("ticket.triaged")) == 1
    assert len([r for r in receiver.requests if r.verified]) == count(stack, ActionRow)


def test_outbound_500_429_and_timeout_are_retried_and_delivered_once(make_stack, receiver):
    receiver.script([(500, {}), (429, {"Retry-After": "2"}), ("sleep", 2.0)], default=(200, {}))
    stack = make_stack()
    stack.start_api()
    stack.start_worker()

    with stack.client() as client:
        ticket_id = client.post(
            "/v1/tickets", json={"external_id": "O-1", "messages": [{"body": "hi"}]}
        ).json()["ticket_id"]
    done = wait_for(lambda: triaged_and_delivered(stack, ticket_id), timeout=90)

    [action] = done["actions"]
    assert action["attempts"] == 4  # 500, 429, timeout, then 200
    assert len(receiver.requests) == 4
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len(receiver.events()) == 1  # a receiver deduping on webhook-id saw one delivery
    # The try after the 429 waited at least its Retry-After.
    times = [r.received_at for r in receiver.requests]
    assert times[2] - times[1] >= 2.0


def test_dead_letter_after_last_try_listed_and_replayed(make_stack, receiver):
    receiver.script([], default=(500, {}))
    stack = make_stack(TRIAGE_RETRY_SCHEDULE_SECONDS="[0.5, 0.5]")
    stack.start_api()
    stack.start_worker()

    with stack.client() as client:
        ticket_id = client.post(
            "/v1/tickets", json={"external_id": "D-1", "messages": [{"body": "hi"}]}
        ).json()["ticket_id"]
        dead = wait_for(lambda: client.get("/v1/admin/dead-letters").json(), timeout=60)
        assert [d["status"] for d in dead] == ["dead"] and dead[0]["attempts"] == 3
        assert dead[0]["last_status_code"] == 500
        assert len(receiver.requests) == 3

        receiver.script([], default=(200, {}))
        replay = client.post(f"/v1/admin/dead-letters/{dead[0]['id']}/replay")
        assert replay.status_code == 202
        assert client.post(f"/v1/admin/dead-letters/{dead[0]['id']}/replay").status_code in (202, 409)

        wait_for(lambda: triaged_and_delivered(stack, ticket_id), timeout=60)
        assert client.get("/v1/admin/dead-letters").json() == []
        assert client.post("/v1/admin/dead-letters/nope/replay").status_code == 404
    assert len(receiver.events()) == 1


def test_poison_message_is_parked_after_max_deliveries(make_stack, receiver):
    stack = make_stack(TRIAGE_MAX_TASK_DELIVERIES="2")
    stack.start_api()
    stack.start_worker()

    with stack.client() as client:
        poison = client.post(
            "/v1/tickets", json={"external_id": "P-1", "messages": [{"body": "[crash] boom"}]}
        )
        fine = client.post("/v1/tickets", json={"external_id": "P-2", "messages": [{"body": "all good"}]})

    # Each delivery kills the pool process; after two the ticket is parked instead of looping forever.
    wait_for(lambda: stack.ticket(poison.json()["ticket_id"])["status"] == "failed", timeout=90)
    wait_for(lambda: triaged_and_delivered(stack, fine.json()["ticket_id"]), timeout=60)
    assert count(stack, TriageRow) == 1


FAULT_RUN_TICKETS = 150


def test_fault_run_loses_nothing_and_doubles_nothing(make_stack, redis_server, receiver, postgres_url):
    """Kill both workers twice and Redis once (kill -9) while tickets arrive; print what came out."""
    stack = make_stack(postgres_url)
    stack.start_api()
    inference = stack.start_worker("inference", beat=True)
    actions = stack.start_worker("actions", beat=False)
    accepted: list[str] = []

    def send_tickets() -> None:
        with stack.client() as client:
            for n in range(FAULT_RUN_TICKETS):
                body = {
                    "external_id": f"F-{n}",
                    "messages": [{"body": f"[frustration=0.{n % 10}] ticket {n}"}],
                }
                try:
                    response = client.post("/v1/tickets", json=body)
                except Exception:
                    continue  # a refused request is not accepted; only 202s are counted
                if response.status_code == 202:
                    accepted.append(response.json()["ticket_id"])
                time.sleep(0.1)

    sender = threading.Thread(target=send_tickets)
    sender.start()
    for round_ in range(2):
        time.sleep(3)
        stack.kill(inference)  # SIGKILL to the worker and its pool children
        inference = stack.start_worker("inference", beat=round_ == 0)
        time.sleep(2)
        stack.kill(actions)
        actions = stack.start_worker("actions", beat=round_ == 1)
        if round_ == 0:
            time.sleep(1)
            assert redis_server.process is not None
            redis_server.process.kill()  # kill -9: Redis comes back from its append-only file
            redis_server.process.wait(timeout=10)
            time.sleep(2)
            redis_server.start()
    sender.join(timeout=120)

    def settled() -> bool:
        with stack.sessions() as session:
            open_tickets = session.scalar(
                select(func.count()).select_from(TicketRow).where(TicketRow.status != "triaged")
            )
            undelivered = session.scalar(
                select(func.count()).select_from(ActionRow).where(ActionRow.status != "delivered")
            )
        return open_tickets == 0 and undelivered == 0

    # A worker killed mid-call leaves its action claimed until the 120 s lease runs out.
    wait_for(settled, timeout=300, interval=1)
    time.sleep(3)  # let any redelivered message run out before counting
    with stack.sessions() as session:
        triaged = session.scalar(
            select(func.count()).select_from(TicketRow).where(TicketRow.status == "triaged")
        )
        per_revision = Counter(
            n
            for n in session.execute(
                select(func.count()).select_from(TriageRow).group_by(TriageRow.ticket_id, TriageRow.revision)
            ).scalars()
        )
        actions_planned = session.scalar(select(func.count()).select_from(ActionRow))
    sent = Counter(r.headers["webhook-id"] for r in receiver.requests if r.verified)
    per_key = Counter(sent.values())
    lost = len(set(accepted)) - triaged
    doubled_triage = sum(count for rows, count in per_revision.items() if rows > 1)
    doubled_actions = sum(count for times, count in per_key.items() if times > 1)
    print(
        f"\nFAULT RUN: accepted {len(accepted)}, triaged {triaged}, lost {lost}; "
        f"triage rows per (ticket, revision): {dict(sorted(per_revision.items()))}; "
        f"actions planned {actions_planned}, delivered per idempotency key: {dict(sorted(per_key.items()))}, "
        f"keys never delivered {actions_planned - len(sent)}; "
        f"doubled triage {doubled_triage}, doubled deliveries {doubled_actions}"
    )
    assert len(accepted) > FAULT_RUN_TICKETS // 2, "too few tickets got through to say anything"
    assert lost == 0 and triaged == len(set(accepted))
    assert doubled_triage == 0 and set(per_revision) == {1}
    assert actions_planned == len(sent) and doubled_actions == 0

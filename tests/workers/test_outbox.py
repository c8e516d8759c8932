"""Outbox delivery: retried on schedule, Retry-After honoured, dead-lettered after the last try."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service.storage.db import session_factory
from service.storage.models import ActionRow
from tests.conftest import make_settings
from tests.workers.helpers import ScriptedConnector, add_ticket
from tests.workers.test_pipeline import run
from workers.connectors.base import Connector, DeliveryResult, OutboundAction
from workers.outbox import deliver_action, due_actions


@pytest.fixture
def action_id(sessions):
    ticket_id = add_ticket(sessions, "[frustration=0.1] hello")
    [outcome] = run(sessions, [ticket_id], connector=ScriptedConnector())
    [only] = outcome.action_ids
    return only


@pytest.fixture
def db(database_url):
    """Sessions on SQLite and on PostgreSQL, for what depends on the database's locking."""
    return session_factory(database_url)


def deliver(sessions, action_id, connector, schedule=(5, 60), now=None):
    settings = make_settings(
        sessions.kw["bind"].url.render_as_string(False), retry_schedule_seconds=list(schedule)
    )
    return deliver_action(
        sessions=sessions,
        action_id=action_id,
        connectors_for=lambda tenant: {"webhook": connector},
        settings=settings,
        now=now,
    )


def load(sessions, action_id) -> ActionRow:
    with sessions() as session:
        return session.get(ActionRow, action_id)


def test_success_marks_delivered_and_a_second_call_sends_nothing(sessions, action_id):
    connector = ScriptedConnector()

    assert deliver(sessions, action_id, connector).status == "delivered"
    assert deliver(sessions, action_id, connector) is None

    assert len(connector.sent) == 1
    row = load(sessions, action_id)
    assert row.status == "delivered" and row.attempts == 1 and row.delivered_at is not None


def test_server_error_schedules_the_next_try_from_the_schedule(sessions, action_id):
    outcome = deliver(sessions, action_id, ScriptedConnector([DeliveryResult(ok=False, status_code=500)]))

    row = load(sessions, action_id)
    assert outcome.status == "pending" and outcome.retry_in == 5
    assert row.last_status_code == 500
    assert timedelta(seconds=4) < row.next_attempt_at - datetime.now(UTC) <= timedelta(seconds=5)


def test_not_due_action_is_not_sent(sessions, action_id):
    connector = ScriptedConnector([DeliveryResult(ok=False, status_code=500)])
    deliver(sessions, action_id, connector)

    assert deliver(sessions, action_id, connector) is None
    assert len(connector.sent) == 1


def test_retry_after_longer_than_schedule_wins(sessions, action_id):
    limited = DeliveryResult(ok=False, status_code=429, retry_after=30, rate_limited=True)

    outcome = deliver(sessions, action_id, ScriptedConnector([limited]))

    assert outcome.retry_in == 30


def test_every_try_carries_the_same_idempotency_key(sessions, action_id):
    connector = ScriptedConnector([DeliveryResult(ok=False, status_code=503)])
    deliver(sessions, action_id, connector, schedule=(0,))
    deliver(sessions, action_id, connector, schedule=(0,))

    keys = {a.idempotency_key for a in connector.sent}
    assert len(connector.sent) == 2 and len(keys) == 1
    assert [a.attempt for a in connector.sent] == [1, 2]


def test_dead_letter_after_the_last_try(sessions, action_id):
    failing = ScriptedConnector([DeliveryResult(ok=False, status_code=500)] * 3)

    statuses = [deliver(sessions, action_id, failing, schedule=(0, 0)).status for _ in range(3)]

    assert statuses == ["pending", "pending", "dead"]
    assert load(sessions, action_id).status == "dead"
    assert due_actions(sessions(), now=datetime.now(UTC) + timedelta(days=1)) == []


def test_gone_is_dead_at_once(sessions, action_id):
    outcome = deliver(
        sessions, action_id, ScriptedConnector([DeliveryResult(ok=False, status_code=410, permanent=True)])
    )
    assert outcome.status == "dead"


def test_action_stuck_in_delivering_is_claimable_after_its_lease(sessions, action_id):
    with sessions.begin() as session:
        row = session.get(ActionRow, action_id)
        row.status = "delivering"
        row.lease_until = datetime.now(UTC) - timedelta(seconds=1)  # its worker died mid-call

    assert action_id in due_actions(sessions(), now=datetime.now(UTC))
    assert deliver(sessions, action_id, ScriptedConnector()).status == "delivered"


def test_unconfigured_connector_dead_letters_with_a_reason(sessions, action_id):
    settings = make_settings(sessions.kw["bind"].url.render_as_string(False))
    outcome = deliver_action(
        sessions=sessions, action_id=action_id, connectors_for=lambda t: {}, settings=settings
    )

    assert outcome.status == "dead"
    with sessions() as session:
        assert "not configured" in session.scalars(select(ActionRow.last_error)).one()


class CountingConnector(ScriptedConnector):
    """Delivers after a short wait, so a second claimer arrives while the first is still sending."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def deliver(self, action: OutboundAction) -> DeliveryResult:
        time.sleep(0.02)
        with self._lock:
            self.sent.append(action)
        return DeliveryResult(ok=True, status_code=200)


def planned_actions(db, count: int) -> list[str]:
    ids = []
    for n in range(count):
        ticket_id = add_ticket(db, "[frustration=0.1] hello", external_id=f"C-{n}")
        [outcome] = run(db, [ticket_id], connector=ScriptedConnector())
        ids.extend(outcome.action_ids)
    return ids


def race(db, action_ids: list[str], connector: Connector) -> dict[str, list[object]]:
    """Let two workers try every action at the same moment; return each action's two outcomes."""
    barrier = threading.Barrier(2)
    outcomes: dict[str, list[object]] = {action_id: [] for action_id in action_ids}

    def worker() -> None:
        for action_id in action_ids:
            barrier.wait(timeout=30)
            outcomes[action_id].append(deliver(db, action_id, connector))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_two_concurrent_claimers_send_each_action_once(db):
    action_ids = planned_actions(db, 12)
    connector = CountingConnector()

    outcomes = race(db, action_ids, connector)

    assert sorted(a.id for a in connector.sent) == sorted(action_ids)
    for action_id, pair in outcomes.items():
        assert sorted(o.status if o else "not claimed" for o in pair) == ["delivered", "not claimed"]
        assert load(db, action_id).status == "delivered"


def test_two_claimers_of_an_expired_lease_send_it_once(db):
    action_ids = planned_actions(db, 12)
    with db.begin() as session:
        for action_id in action_ids:
            row = session.get(ActionRow, action_id)
            row.status = "delivering"
            row.lease_until = datetime.now(UTC) - timedelta(seconds=1)  # its worker died mid-call
    connector = CountingConnector()

    race(db, action_ids, connector)

    assert sorted(a.id for a in connector.sent) == sorted(action_ids)


def test_a_try_whose_lease_ran_out_does_not_overwrite_the_newer_claim(sessions, action_id):
    newer_lease = datetime.now(UTC) + timedelta(minutes=10)

    class ReclaimedMidCall(ScriptedConnector):
        def deliver(self, action: OutboundAction) -> DeliveryResult:
            # While this try waits on the network, its lease runs out and another worker claims it.
            with sessions.begin() as session:
                session.get(ActionRow, action.id).lease_until = newer_lease
            return DeliveryResult(ok=False, status_code=500)

    assert deliver(sessions, action_id, ReclaimedMidCall()) is None

    row = load(sessions, action_id)
    # Still the newer claim's: were it `pending`, the sweep would start a third, concurrent send.
    assert row.status == "delivering" and row.lease_until == newer_lease and row.attempts == 0


def test_delivered_or_claimed_actions_are_not_sent_by_a_redelivered_message(sessions, action_id):
    connector = ScriptedConnector()
    with sessions.begin() as session:
        row = session.get(ActionRow, action_id)
        row.status = "delivering"
        row.lease_until = datetime.now(UTC) + timedelta(seconds=60)  # another worker is sending it

    assert deliver(sessions, action_id, connector) is None
    assert action_id not in due_actions(sessions(), now=datetime.now(UTC))
    assert connector.sent == []

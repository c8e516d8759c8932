"""The reconciliation sweep re-enqueues what the broker may have lost, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from service.storage.models import TicketRow
from tests.workers.helpers import ScriptedConnector, add_ticket
from tests.workers.test_pipeline import run
from workers.sweep import reconcile


class Recorder:
    def __init__(self, up: bool = True):
        self.up = up
        self.sent: list[tuple[str, list[object]]] = []

    def __call__(self, task, args):
        if self.up:
            self.sent.append((task, list(args)))
        return self.up


def test_never_enqueued_ticket_is_sent_at_once_and_marked(sessions):
    ticket_id = add_ticket(sessions, "hello")  # stored while Redis was down: enqueued_at is NULL
    send = Recorder()

    counts = reconcile(sessions=sessions, deadline_seconds=60, send=send)

    assert counts == {"tickets": 1, "actions": 0}
    assert send.sent == [("triage.classify", [[ticket_id]])]
    # Marked as enqueued: the next sweep within the deadline leaves it alone.
    assert reconcile(sessions=sessions, deadline_seconds=60, send=Recorder())["tickets"] == 0


def test_recently_enqueued_ticket_waits_until_the_deadline(sessions):
    ticket_id = add_ticket(sessions, "hello")
    with sessions.begin() as session:
        session.execute(update(TicketRow).values(enqueued_at=datetime.now(UTC)))

    assert reconcile(sessions=sessions, deadline_seconds=60, send=Recorder())["tickets"] == 0
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert reconcile(sessions=sessions, deadline_seconds=60, send=Recorder(), now=later)["tickets"] == 1
    assert ticket_id


def test_triaged_tickets_are_left_alone_and_due_actions_are_sent(sessions):
    ticket_id = add_ticket(sessions, "hello")
    [outcome] = run(sessions, [ticket_id], connector=ScriptedConnector())
    send = Recorder()

    counts = reconcile(sessions=sessions, deadline_seconds=0, send=send)

    assert counts == {"tickets": 0, "actions": 1}
    assert send.sent == [("triage.deliver", [outcome.action_ids[0]])]


def test_broker_still_down_leaves_tickets_for_the_next_sweep(sessions):
    add_ticket(sessions, "hello")

    assert reconcile(sessions=sessions, deadline_seconds=60, send=Recorder(up=False))["tickets"] == 0
    assert reconcile(sessions=sessions, deadline_seconds=60, send=Recorder())["tickets"] == 1

"""Reconciliation: tickets accepted but not triaged in time, and outbox actions that are due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service import queue
from service.domain import TicketStatus
from service.storage.models import TicketRow
from workers.outbox import due_actions

BATCH = 32


def reconcile(
    *,
    sessions: sessionmaker[Session],
    deadline_seconds: float,
    send: Callable[[str, Sequence[Any]], bool],
    now: datetime | None = None,
) -> dict[str, int]:
    """Re-enqueue overdue tickets in batches and due actions one by one; return the counts sent."""
    now = now or datetime.now(UTC)
    overdue = now - timedelta(seconds=deadline_seconds)
    with sessions() as session:
        ticket_ids = list(
            session.scalars(
                select(TicketRow.id)
                .where(
                    TicketRow.status.in_([TicketStatus.ACCEPTED, TicketStatus.TRIAGING]),
                    TicketRow.triaged_revision < TicketRow.revision,
                    # Never enqueued (Redis was down at intake), or enqueued too long ago.
                    or_(TicketRow.enqueued_at.is_(None), TicketRow.enqueued_at < overdue),
                )
                .order_by(TicketRow.created_at)
                .limit(1000)
            )
        )
        action_ids = due_actions(session, now=now)
    sent_tickets = 0
    for start in range(0, len(ticket_ids), BATCH):
        batch = ticket_ids[start : start + BATCH]
        if not send(queue.TASK_CLASSIFY, [batch]):
            break  # broker still down; the next sweep tries again
        with sessions.begin() as session:
            session.execute(update(TicketRow).where(TicketRow.id.in_(batch)).values(enqueued_at=now))
        sent_tickets += len(batch)
    sent_actions = 0
    for action_id in action_ids:
        if not send(queue.TASK_DELIVER, [action_id]):
            break
        sent_actions += 1
    return {"tickets": sent_tickets, "actions": sent_actions}

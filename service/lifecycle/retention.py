"""Retention: remove customer text past each tenant's window, and delivery ids past every sender's retries.

What goes is text a customer wrote or that quotes them: subjects, message bodies, the requester id,
evidence spans in triage results, draft texts, outbox payloads, feedback comments and edited drafts.
What stays carries no customer text: scores and levels, decisions with their reasons, action outcomes,
feedback labels, so metrics, replays and retraining labels survive.

The work runs in short transactions of `retention_batch_size` tickets (or delivery ids) with a pause
between them, so intake, which needs the same tables, is never kept waiting for long; a run stops
after `retention_max_run_seconds` and the next one carries on where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain import ActionStatus, TicketStatus
from service.storage.db import rowcount
from service.storage.models import (
    ActionRow,
    DecisionRow,
    FeedbackRow,
    InboundDeliveryRow,
    MessageRow,
    TicketRow,
    TriageRow,
)
from service.tenants import Retention, Tenant

log = logging.getLogger(__name__)

CLOSED = "closed"
DELETED = "deleted"
HELPDESK_STATES = (CLOSED, DELETED)
# Outbox rows still to be sent need their payload; their ticket waits until they are done.
OPEN_ACTIONS = (ActionStatus.PENDING, ActionStatus.DELIVERING)
# Feedback payload keys that hold an agent's words, which may quote the customer.
FEEDBACK_TEXT_KEYS = ("comment", "text")


@dataclass
class RetentionReport:
    """What one run removed, per tenant, and whether it got through everything that was due."""

    purged_rows: Counter[str] = field(default_factory=Counter)
    purged_tickets: Counter[str] = field(default_factory=Counter)
    delivery_ids: Counter[str] = field(default_factory=Counter)
    tenants: set[str] = field(default_factory=set)
    batches: int = 0
    finished: bool = True

    def summary(self) -> dict[str, Any]:
        """Return the run's totals as JSON-friendly values (the task result, the CLI's output)."""
        return {
            "purged_tickets": sum(self.purged_tickets.values()),
            "purged_rows": sum(self.purged_rows.values()),
            "delivery_ids": sum(self.delivery_ids.values()),
            "batches": self.batches,
            "finished": self.finished,
        }


def run_retention(
    *,
    sessions: sessionmaker[Session],
    tenants: Iterable[Tenant],
    settings: Settings,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RetentionReport:
    """Purge what is due for every tenant, then expired delivery ids, within the run's time budget."""
    now = now or datetime.now(UTC)
    deadline = clock() + settings.retention_max_run_seconds
    report = RetentionReport()
    policies = {tenant.name: tenant.retention.resolved(settings) for tenant in tenants}
    fallback = Retention().resolved(settings)
    with sessions() as session:
        # Tenants removed from the tenants file still have rows; they follow the default policy.
        stored = set(session.scalars(select(TicketRow.tenant).distinct()))
    report.tenants = set(policies) | stored

    def within_budget() -> bool:
        if clock() < deadline:
            return True
        report.finished = False
        return False

    for tenant in sorted(report.tenants):
        policy = policies.get(tenant, fallback)
        for due in due_conditions(policy, now):
            while within_budget():
                purged = purge_ticket_batch(
                    sessions, tenant=tenant, due=due, limit=settings.retention_batch_size, now=now
                )
                if not purged.tickets:
                    break
                report.batches += 1
                report.purged_tickets[tenant] += purged.tickets
                report.purged_rows[tenant] += purged.rows
                sleep(settings.retention_batch_pause_seconds)
    cutoff = now - timedelta(hours=settings.delivery_retention_hours)
    while within_budget():
        removed = purge_delivery_batch(sessions, before=cutoff, limit=settings.retention_batch_size)
        if not removed:
            break
        report.batches += 1
        report.delivery_ids.update(removed)
        sleep(settings.retention_batch_pause_seconds)
    log.info(
        "retention: %(purged_tickets)d ticket(s), %(purged_rows)d row(s), %(delivery_ids)d delivery "
        "id(s) in %(batches)d batch(es); finished=%(finished)s",
        report.summary(),
    )
    return report


def due_conditions(policy: Retention, now: datetime) -> list[ColumnElement[bool]]:
    """Return the conditions under which a ticket's text is due: idle, closed, or deleted for long enough."""
    assert policy.days is not None and policy.closed_days is not None and policy.deleted_days is not None
    idle_since = now - timedelta(days=policy.days)
    conditions: list[ColumnElement[bool]] = [TicketRow.updated_at < idle_since]
    if policy.closed_days < policy.days:
        closed_since = now - timedelta(days=policy.closed_days)
        # Closed for long enough and quiet since: a reply after closing counts as activity.
        conditions.append(
            and_(
                TicketRow.helpdesk_state == CLOSED,
                TicketRow.helpdesk_state_at < closed_since,
                TicketRow.updated_at < closed_since,
            )
        )
    if policy.deleted_days < policy.days:
        deleted_since = now - timedelta(days=policy.deleted_days)
        conditions.append(
            and_(TicketRow.helpdesk_state == DELETED, TicketRow.helpdesk_state_at <= deleted_since)
        )
    return conditions


def _settled() -> ColumnElement[bool]:
    """Return the condition that nothing is working on a ticket's text: it is safe to purge now.

    A ticket waiting for triage keeps its text (the worker reads it), and so does one with outbox
    actions still to send (their payloads carry the note or draft).
    """
    return and_(
        TicketRow.purged_at.is_(None),
        or_(TicketRow.triaged_revision >= TicketRow.revision, TicketRow.status == TicketStatus.FAILED),
        ~exists().where(ActionRow.ticket_id == TicketRow.id, ActionRow.status.in_(OPEN_ACTIONS)),
    )


@dataclass(frozen=True)
class Purged:
    tickets: int
    rows: int


def purge_ticket_batch(
    sessions: sessionmaker[Session], *, tenant: str, due: ColumnElement[bool], limit: int, now: datetime
) -> Purged:
    """Purge the text of up to `limit` of the tenant's tickets that are due, in one transaction."""
    with sessions.begin() as session:
        candidates = list(
            session.scalars(
                select(TicketRow.id)
                .where(TicketRow.tenant == tenant, due, _settled())
                .order_by(TicketRow.updated_at)
                .limit(limit)
            )
        )
        if not candidates:
            return Purged(0, 0)
        # Mark first, with the conditions checked again: a reply that arrived since the SELECT has
        # made its ticket active (and unpurged) again, and this UPDATE leaves it alone. The UPDATE
        # also holds those rows until commit, so intake's next write to them waits for the purge.
        marked = list(
            session.scalars(
                update(TicketRow)
                .where(TicketRow.id.in_(candidates), due, _settled())
                .values(subject="", requester_id=None, last_error=None, purged_at=now)
                .returning(TicketRow.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not marked:
            return Purged(0, 0)
        rows = len(marked) + purge_ticket_text(session, marked)
    return Purged(len(marked), rows)


def purge_ticket_text(session: Session, ticket_ids: Sequence[str]) -> int:
    """Remove the customer text that hangs off these tickets; return how many rows changed."""
    changed = rowcount(session.execute(delete(MessageRow).where(MessageRow.ticket_id.in_(ticket_ids))))
    triage_updates = [
        {"id": row_id, "result": kept_result}
        for row_id, result in session.execute(
            select(TriageRow.id, TriageRow.result).where(TriageRow.ticket_id.in_(ticket_ids))
        )
        if (kept_result := without_evidence(result)) != result
    ]
    draft_updates = [
        {"id": row_id, "drafts": kept_drafts}
        for row_id, drafts in session.execute(
            select(DecisionRow.id, DecisionRow.drafts).where(
                DecisionRow.ticket_id.in_(ticket_ids), DecisionRow.drafts.is_not(None)
            )
        )
        if (kept_drafts := without_draft_text(drafts)) != drafts
    ]
    feedback_updates = [
        {"id": row_id, "payload": kept_payload}
        for row_id, payload in session.execute(
            select(FeedbackRow.id, FeedbackRow.payload).where(FeedbackRow.ticket_id.in_(ticket_ids))
        )
        if (kept_payload := without_feedback_text(payload)) != payload
    ]
    for model, updates in (
        (TriageRow, triage_updates),
        (DecisionRow, draft_updates),
        (FeedbackRow, feedback_updates),
    ):
        if updates:
            session.execute(update(model), updates)
        changed += len(updates)
    # Sent, dead or skipped actions keep their outcome; their payload (note text, draft, evidence)
    # and any error text the helpdesk answered with go.
    changed += rowcount(
        session.execute(
            update(ActionRow)
            .where(ActionRow.ticket_id.in_(ticket_ids), ActionRow.status.not_in(OPEN_ACTIONS))
            .values(payload={}, last_error=None)
            .execution_options(synchronize_session=False)
        )
    )
    return changed


def without_evidence(result: dict[str, Any]) -> dict[str, Any]:
    """Return a stored triage result without its evidence spans (quotes of the customer's text).

    This walks the stored JSON rather than validating it as a Triage, so a row written by an older
    model version is scrubbed just the same instead of stopping the job.
    """
    scrubbed = dict(result)
    for score in ("frustration", "urgency"):
        value = scrubbed.get(score)
        if isinstance(value, dict) and value.get("evidence"):
            scrubbed[score] = {**value, "evidence": []}
    return scrubbed


def without_draft_text(drafts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the drafts with their text removed; rank, template and tone stay for the feedback counts."""
    return [{key: value for key, value in draft.items() if key != "text"} for draft in drafts]


def without_feedback_text(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a feedback payload without the agent's comment and edited draft text; labels stay."""
    return {key: value for key, value in payload.items() if key not in FEEDBACK_TEXT_KEYS}


def purge_delivery_batch(sessions: sessionmaker[Session], *, before: datetime, limit: int) -> Counter[str]:
    """Delete up to `limit` delivery ids received before `before`; return how many per tenant."""
    with sessions.begin() as session:
        expired = session.execute(
            select(InboundDeliveryRow.id, InboundDeliveryRow.tenant)
            .where(InboundDeliveryRow.received_at < before)
            .order_by(InboundDeliveryRow.received_at)
            .limit(limit)
        ).all()
        if not expired:
            return Counter()
        session.execute(delete(InboundDeliveryRow).where(InboundDeliveryRow.id.in_([i for i, _ in expired])))
    return Counter(tenant for _, tenant in expired)

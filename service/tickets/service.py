"""Intake: store a ticket (or a reply to one) first, then enqueue it; the seam every connector uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service import metrics, queue
from service.config import Settings
from service.domain import AuthorRole, Decision, Message, Ticket, TicketStatus, Triage
from service.storage.models import (
    ActionRow,
    DecisionRow,
    InboundDeliveryRow,
    MessageRow,
    TicketRow,
    TriageRow,
)
from service.text import strip_nul_deep
from service.tickets.schemas import ActionOut, MessageOut, TicketOut

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundDelivery:
    """A webhook delivery's dedupe key and the hash of the signed content it carried."""

    connector: str
    delivery_id: str
    content_hash: str


class DeliveryConflict(Exception):
    """A delivery id seen before came back with different signed content: refuse it (409)."""


@dataclass(frozen=True)
class AcceptResult:
    ticket_id: str
    revision: int
    status: str
    needs_triage: bool
    duplicate: bool = False
    queued: bool = False


def store_ticket(session: Session, ticket: Ticket) -> AcceptResult:
    """Insert a new ticket or append the messages a known one has not seen; bump its revision on news.

    Helpdesks deliver at least once, so the same message may arrive again: messages are matched on
    their external id, or on role and body when the helpdesk gives none.
    """
    now = datetime.now(UTC)
    row = _find(session, ticket, lock=True)
    if row is None:
        row = TicketRow(
            tenant=ticket.tenant,
            source=ticket.source,
            external_id=ticket.external_id,
            subject=ticket.subject,
            requester_id=ticket.requester_id,
            tags=list(ticket.tags),
            priority=ticket.priority,
            language=ticket.language,
            group=ticket.group,
            brand=ticket.brand,
            status=TicketStatus.ACCEPTED,
            revision=1,
            triaged_revision=0,
            deliveries=0,
            created_at=now,
            updated_at=now,
        )
        for position, message in enumerate(ticket.messages):
            row.messages.append(_message_row(position, message, now))
        session.add(row)
        session.flush()
        return AcceptResult(row.id, row.revision, row.status, needs_triage=True)

    seen_ids = {m.external_id for m in row.messages if m.external_id}
    seen_bodies = {(m.author_role, m.body) for m in row.messages}
    position = len(row.messages)
    new_customer_messages = 0
    for message in ticket.messages:
        if message.external_id and message.external_id in seen_ids:
            continue
        if not message.external_id and (message.author_role.value, message.body) in seen_bodies:
            continue
        row.messages.append(_message_row(position, message, now))
        position += 1
        if message.author_role == AuthorRole.CUSTOMER:
            new_customer_messages += 1
    # Fields the helpdesk owns follow the latest delivery.
    row.tags = list(ticket.tags) or row.tags
    row.priority = ticket.priority or row.priority
    row.subject = ticket.subject or row.subject
    row.updated_at = now
    # The delivery may have brought text back to a purged ticket: retention must look at it again.
    row.purged_at = None
    if new_customer_messages and row.helpdesk_state == "closed":
        row.helpdesk_state = None  # a customer's reply reopens a closed ticket in every helpdesk
        row.helpdesk_state_at = now
    if new_customer_messages == 0:
        return AcceptResult(row.id, row.revision, row.status, needs_triage=False, duplicate=True)
    row.revision += 1
    row.deliveries = 0
    row.status = TicketStatus.ACCEPTED
    row.enqueued_at = None
    return AcceptResult(row.id, row.revision, row.status, needs_triage=True)


def _message_row(position: int, message: Message, now: datetime) -> MessageRow:
    return MessageRow(
        position=position,
        author_role=message.author_role.value,
        body=message.body,
        external_id=message.external_id,
        created_at=message.created_at or now,
    )


def _find(session: Session, ticket: Ticket, *, lock: bool = False) -> TicketRow | None:
    query = select(TicketRow).where(
        TicketRow.tenant == ticket.tenant,
        TicketRow.source == ticket.source,
        TicketRow.external_id == ticket.external_id,
    )
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def record_delivery(session: Session, *, tenant: str, delivery: InboundDelivery) -> bool:
    """Remember an inbound delivery; return False if it was seen before with the same content.

    Raises DeliveryConflict when the id was seen with other content: a retry resends the same signed
    bytes, so a different body under a known id is a replay or a sender bug, never a new ticket.
    """
    try:
        with session.begin_nested():
            session.add(
                InboundDeliveryRow(
                    tenant=tenant,
                    connector=delivery.connector,
                    delivery_id=delivery.delivery_id,
                    content_hash=delivery.content_hash,
                )
            )
    except IntegrityError:
        seen = session.scalars(
            select(InboundDeliveryRow.content_hash).where(
                InboundDeliveryRow.tenant == tenant,
                InboundDeliveryRow.connector == delivery.connector,
                InboundDeliveryRow.delivery_id == delivery.delivery_id,
            )
        ).one()
        # Rows written before the hash was kept (None) cannot be compared: keep treating them as retries.
        if seen is not None and seen != delivery.content_hash:
            raise DeliveryConflict(delivery.connector) from None
        return False
    return True


def set_helpdesk_state(
    session: Session, *, tenant: str, source: str, external_id: str, state: str, now: datetime
) -> str | None:
    """Record that the helpdesk closed, deleted or reopened a stored ticket; return its id, if stored.

    Closed and deleted tickets have their text purged sooner (service/lifecycle/retention.py); a
    reopened one is open again. Nothing is created for a ticket this service never stored.
    """
    row = session.scalars(
        select(TicketRow)
        .where(TicketRow.tenant == tenant, TicketRow.source == source, TicketRow.external_id == external_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    row.helpdesk_state = None if state == "reopened" else state
    row.helpdesk_state_at = now
    return row.id


def link_delivery(session: Session, *, tenant: str, delivery: InboundDelivery, ticket_id: str) -> None:
    """Record which ticket a delivery stored, so erasing that ticket erases its delivery too."""
    session.execute(
        update(InboundDeliveryRow)
        .where(
            InboundDeliveryRow.tenant == tenant,
            InboundDeliveryRow.connector == delivery.connector,
            InboundDeliveryRow.delivery_id == delivery.delivery_id,
            InboundDeliveryRow.ticket_id.is_(None),
        )
        .values(ticket_id=ticket_id)
    )


def without_nul(ticket: Ticket) -> Ticket:
    """Return the ticket with NUL removed from every text (service/text.py says why)."""
    return Ticket.model_validate(strip_nul_deep(ticket.model_dump()))


@metrics.observe_intake
def submit(
    sessions: sessionmaker[Session],
    settings: Settings,
    ticket: Ticket,
    *,
    delivery: InboundDelivery | None = None,
) -> AcceptResult:
    """Persist, commit, then enqueue. A failed enqueue still answers: the sweep picks the ticket up.

    `delivery` identifies a webhook delivery; one seen before changes nothing, and one seen before
    with other content raises DeliveryConflict. Every intake passes here, so NUL is stripped here.
    """
    ticket = without_nul(ticket)
    for attempt in range(2):
        try:
            with sessions.begin() as session:
                if delivery is not None and not record_delivery(
                    session, tenant=ticket.tenant, delivery=delivery
                ):
                    existing = _find(session, ticket)
                    if existing is not None:
                        return AcceptResult(
                            existing.id, existing.revision, existing.status, False, duplicate=True
                        )
                result = store_ticket(session, ticket)
                if delivery is not None:
                    link_delivery(
                        session, tenant=ticket.tenant, delivery=delivery, ticket_id=result.ticket_id
                    )
                if result.needs_triage:
                    # Marked queued in the same transaction as the ticket (one commit per intake, not
                    # two); a failed publish below clears the mark. A crash between the commit and
                    # the publish leaves the mark: the sweep re-enqueues it after triage_deadline.
                    enqueued_at = datetime.now(UTC)
                    stored = session.get(TicketRow, result.ticket_id)
                    assert stored is not None
                    stored.enqueued_at = enqueued_at
            break
        except IntegrityError:
            # Two deliveries of the same new ticket raced; the second one now finds the first's row.
            if attempt == 1:
                raise
    if not result.needs_triage:
        return result
    queued = queue.send(settings, queue.TASK_CLASSIFY, [[result.ticket_id]])
    if not queued:
        # The sweep finds tickets never enqueued at once, overdue ones only after the deadline.
        with sessions.begin() as session:
            session.execute(
                update(TicketRow)
                .where(
                    TicketRow.id == result.ticket_id,
                    TicketRow.revision == result.revision,
                    TicketRow.enqueued_at == enqueued_at,
                )
                .values(enqueued_at=None)
            )
    return AcceptResult(result.ticket_id, result.revision, result.status, True, queued=queued)


def latest_results(session: Session, ticket_id: str) -> tuple[TriageRow | None, DecisionRow | None]:
    """Return the triage result and decision of the ticket's latest triaged revision."""
    triage_row = session.scalars(
        select(TriageRow).where(TriageRow.ticket_id == ticket_id).order_by(TriageRow.revision.desc())
    ).first()
    decision_row = session.scalars(
        select(DecisionRow).where(DecisionRow.ticket_id == ticket_id).order_by(DecisionRow.revision.desc())
    ).first()
    return triage_row, decision_row


def ticket_status(session: Session, *, tenant: str, ticket_id: str) -> TicketOut | None:
    """Return a ticket with its latest triage, decision and actions, or None outside the tenant."""
    row = session.get(TicketRow, ticket_id)
    if row is None or row.tenant != tenant:
        return None
    triage_row, decision_row = latest_results(session, ticket_id)
    actions = session.scalars(
        select(ActionRow).where(ActionRow.ticket_id == ticket_id).order_by(ActionRow.created_at)
    ).all()
    return TicketOut(
        id=row.id,
        tenant=row.tenant,
        source=row.source,
        external_id=row.external_id,
        subject=row.subject,
        status=row.status,
        revision=row.revision,
        triaged_revision=row.triaged_revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        messages=[
            MessageOut(author_role=m.author_role, body=m.body, created_at=m.created_at) for m in row.messages
        ],
        triage=Triage.model_validate(triage_row.result) if triage_row else None,
        decision=Decision.model_validate(decision_row.decision) if decision_row else None,
        actions=[action_out(a) for a in actions],
    )


def ticket_from_row(row: TicketRow, *, until: datetime | None = None) -> Ticket:
    """Return the canonical ticket; with `until`, only the messages that existed at that moment."""
    messages = [m for m in row.messages if until is None or m.created_at <= until] or row.messages
    return Ticket(
        id=row.id,
        tenant=row.tenant,
        source=row.source,
        external_id=row.external_id,
        subject=row.subject,
        messages=[
            Message(author_role=AuthorRole(m.author_role), body=m.body, created_at=m.created_at)
            for m in messages
        ],
        requester_id=row.requester_id,
        tags=list(row.tags or []),
        priority=row.priority,
        language=row.language,
        group=row.group,
        brand=row.brand,
    )


def action_out(row: ActionRow) -> ActionOut:
    return ActionOut(
        id=row.id,
        kind=row.kind,
        connector=row.connector,
        status=row.status,
        attempts=row.attempts,
        idempotency_key=row.idempotency_key,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )

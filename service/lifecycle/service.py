"""Erasure on request: remove every row that holds one customer's (or one ticket's) text or identifiers.

Everything goes in the caller's one transaction: the tickets with their messages, triage results,
decisions and drafts, outbox actions and feedback, the inbound deliveries they came in, and the
references other tickets of the same requester keep to them. An audit row records who asked, when,
by which selector and how many rows went, never the customer's identifier. Erasing again finds
nothing, removes nothing and records a second audit row with zero counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.lifecycle.schemas import ErasureIn, ErasureOut, Selector
from service.storage.db import rowcount
from service.storage.models import (
    ActionRow,
    DecisionRow,
    ErasureRow,
    FeedbackRow,
    InboundDeliveryRow,
    MessageRow,
    TicketRow,
    TriageRow,
)

# Tables that hang off a ticket, in the order they are emptied (children before the ticket).
TICKET_CHILDREN = (
    ("messages", MessageRow),
    ("triage_results", TriageRow),
    ("decisions", DecisionRow),
    ("actions", ActionRow),
    ("feedback", FeedbackRow),
    ("inbound_deliveries", InboundDeliveryRow),
)
COUNTED = (*(name for name, _ in TICKET_CHILDREN), "tickets", "references")
# Bound on an IN list, so a requester with thousands of tickets stays within every driver's limits.
CHUNK = 500


class AmbiguousTicket(ValueError):
    """The helpdesk ticket id exists under several sources; the request must name one."""

    def __init__(self, sources: Sequence[str]):
        super().__init__(f"ticket id exists in several sources ({', '.join(sources)}): name one")
        self.sources = list(sources)


@dataclass(frozen=True)
class Erasure:
    """What to erase: a requester or a helpdesk ticket id, within one tenant."""

    tenant: str
    selector: Selector
    value: str
    source: str | None = None

    @classmethod
    def from_request(cls, tenant: str, body: ErasureIn) -> Erasure:
        if body.requester_id is not None:
            return cls(tenant, "requester", body.requester_id)
        assert body.ticket_id is not None
        return cls(tenant, "ticket", body.ticket_id, body.source)


def matching_tickets(session: Session, erasure: Erasure) -> list[tuple[str, str | None]]:
    """Return (ticket id, requester id) of every stored ticket the erasure covers.

    Raises AmbiguousTicket when a helpdesk ticket id matches tickets of several sources.
    """
    query = select(TicketRow.id, TicketRow.requester_id, TicketRow.source).where(
        TicketRow.tenant == erasure.tenant
    )
    if erasure.selector == "requester":
        query = query.where(TicketRow.requester_id == erasure.value)
    else:
        query = query.where(TicketRow.external_id == erasure.value)
        if erasure.source is not None:
            query = query.where(TicketRow.source == erasure.source)
    rows = session.execute(query.order_by(TicketRow.created_at)).all()
    sources = sorted({source for _, _, source in rows})
    if erasure.selector == "ticket" and len(sources) > 1:
        raise AmbiguousTicket(sources)
    return [(ticket_id, requester) for ticket_id, requester, _ in rows]


def count_holdings(session: Session, erasure: Erasure) -> dict[str, int]:
    """Return how many rows per table an erasure would remove, removing nothing (a dry run)."""
    found = matching_tickets(session, erasure)
    ids = [ticket_id for ticket_id, _ in found]
    counts = dict.fromkeys(COUNTED, 0)
    for chunk in _chunks(ids):
        for name, model in TICKET_CHILDREN:
            counts[name] += (
                session.scalar(select(func.count()).select_from(model).where(model.ticket_id.in_(chunk))) or 0
            )
    counts["tickets"] = len(ids)
    counts["references"] = len(_referring_rows(session, erasure.tenant, found))
    return counts


def erase(
    session: Session,
    erasure: Erasure,
    *,
    actor: str,
    via: str,
    reference: str | None = None,
    now: datetime | None = None,
) -> ErasureOut:
    """Remove everything the erasure covers and record the audit row, in the caller's transaction."""
    now = now or datetime.now(UTC)
    found = matching_tickets(session, erasure)
    ids = [ticket_id for ticket_id, _ in found]
    counts = dict.fromkeys(COUNTED, 0)
    # Other tickets of the same requesters name the erased ones in their stored history.
    counts["references"] = _drop_references(session, erasure.tenant, found)
    for chunk in _chunks(ids):
        for name, model in TICKET_CHILDREN:
            counts[name] += rowcount(session.execute(delete(model).where(model.ticket_id.in_(chunk))))
        counts["tickets"] += rowcount(session.execute(delete(TicketRow).where(TicketRow.id.in_(chunk))))
    record = ErasureRow(
        tenant=erasure.tenant,
        selector=erasure.selector,
        actor=actor,
        via=via,
        reference=reference,
        counts=counts,
        rows_removed=removed(counts),
        requested_at=now,
    )
    session.add(record)
    session.flush()
    return erasure_out(record)


def removed(counts: dict[str, int]) -> int:
    """Return the rows deleted; `references` counts kept rows that were edited, not removed."""
    return sum(value for name, value in counts.items() if name != "references")


def erasure_out(row: ErasureRow) -> ErasureOut:
    return ErasureOut(
        id=row.id,
        tenant=row.tenant,
        selector="ticket" if row.selector == "ticket" else "requester",
        actor=row.actor,
        via=row.via,
        reference=row.reference,
        requested_at=row.requested_at,
        counts=dict(row.counts),
        rows_removed=row.rows_removed,
    )


def list_erasures(session: Session, *, tenant: str, limit: int = 100) -> list[ErasureOut]:
    """Return the tenant's erasure audit records, newest first."""
    rows = session.scalars(
        select(ErasureRow)
        .where(ErasureRow.tenant == tenant)
        .order_by(ErasureRow.requested_at.desc(), ErasureRow.id.desc())
        .limit(limit)
    )
    return [erasure_out(row) for row in rows]


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _referring_rows(
    session: Session, tenant: str, found: Sequence[tuple[str, str | None]]
) -> list[tuple[type[TriageRow] | type[ActionRow], int, dict[str, Any]]]:
    """Return the kept rows whose stored history names an erased ticket, with that history removed.

    Triage results (and the outbox payloads that copy them) list the requester's earlier tickets by
    our id; only tickets of the same requesters can name them.
    """
    erased = {ticket_id for ticket_id, _ in found}
    requesters = {requester for _, requester in found if requester}
    if not erased or not requesters:
        return []
    kept = [
        ticket_id
        for ticket_id in session.scalars(
            select(TicketRow.id).where(TicketRow.tenant == tenant, TicketRow.requester_id.in_(requesters))
        )
        if ticket_id not in erased
    ]
    changed: list[tuple[type[TriageRow] | type[ActionRow], int, dict[str, Any]]] = []
    for chunk in _chunks(kept):
        for row_id, result in session.execute(
            select(TriageRow.id, TriageRow.result).where(TriageRow.ticket_id.in_(chunk))
        ):
            scrubbed = _without_history_of(result, erased)
            if scrubbed != result:
                changed.append((TriageRow, row_id, scrubbed))
        for action_id, payload in session.execute(
            select(ActionRow.id, ActionRow.payload).where(ActionRow.ticket_id.in_(chunk))
        ):
            triage = payload.get("triage") if isinstance(payload, dict) else None
            if isinstance(triage, dict):
                scrubbed_triage = _without_history_of(triage, erased)
                if scrubbed_triage != triage:
                    changed.append((ActionRow, action_id, {**payload, "triage": scrubbed_triage}))
    return changed


def _drop_references(session: Session, tenant: str, found: Sequence[tuple[str, str | None]]) -> int:
    rows = _referring_rows(session, tenant, found)
    for model, row_id, value in rows:
        column = "result" if model is TriageRow else "payload"
        session.execute(
            update(model)
            .where(model.id == row_id)
            .values({column: value})
            .execution_options(synchronize_session=False)
        )
    return len(rows)


def _without_history_of(result: dict[str, Any], erased: set[str]) -> dict[str, Any]:
    """Return a stored triage result whose history no longer names the erased tickets.

    The history is stored JSON written by workers/routing/history.py and workers/inference/
    conversation.py; it is walked as JSON so older shapes are scrubbed too.
    """
    history = result.get("history")
    if not isinstance(history, dict):
        return result
    scrubbed = dict(history)
    contacts = history.get("contacts")
    if isinstance(contacts, list):
        scrubbed["contacts"] = [
            c for c in contacts if not (isinstance(c, dict) and c.get("ticket_id") in erased)
        ]
    recurring = history.get("recurring_tickets")
    if isinstance(recurring, list):
        scrubbed["recurring_tickets"] = [t for t in recurring if t not in erased]
    return result if scrubbed == history else {**result, "history": scrubbed}

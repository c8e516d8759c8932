"""Turn per-message scores into ticket scores: the conversation's trajectory and the requester's history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain import FRUSTRATION_LEVELS, Scores, Ticket
from workers.inference.base import Classifier


@dataclass(frozen=True)
class EarlierTicket:
    """A requester's earlier ticket, as the history check sees it."""

    ticket_id: str
    created_at: datetime
    text: str
    frustration_level: str | None
    urgency_level: str | None


@dataclass
class TicketScores:
    """A ticket's scores at its current revision, with what the history added."""

    scores: Scores
    history: dict[str, Any] = field(default_factory=dict)


def score_tickets(
    classifier: Classifier,
    items: Sequence[tuple[Ticket, Sequence[EarlierTicket]]],
) -> list[TicketScores]:
    """Score every ticket's latest customer message in one batch and fold in trajectory and history."""
    texts: list[str] = []
    for ticket, _ in items:
        customer = ticket.customer_messages() or ticket.messages
        texts.append(_ticket_text(ticket.subject if len(customer) == 1 else "", customer[-1].body))
    predictions = classifier.predict(texts)
    results = []
    for (ticket, earlier), scores in zip(items, predictions, strict=True):
        history = {
            "earlier_tickets": len(earlier),
            "earlier_frustrated": sum(
                1 for e in earlier if e.frustration_level in FRUSTRATION_LEVELS[2:]
            ),
            "customer_messages": len(ticket.customer_messages()),
        }
        results.append(TicketScores(scores=scores, history=history))
    return results


def _ticket_text(subject: str, body: str) -> str:
    return f"{subject}\n\n{body}" if subject else body

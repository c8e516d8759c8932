"""A small stored world for assist and feedback tests: a repeat customer whose frustration rises."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from service.domain import Evidence, Message, Scores, Ticket
from service.tickets.service import store_ticket
from tests.fakes.classifier import MARKER, MarkerClassifier
from tests.workers.routing.stored import lexical_drafter
from workers.pipeline import triage_tickets
from workers.routing.policy import load_policy

SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
FIRST = "[frustration=0.3] How do I change my plan?"
SECOND = (
    "[frustration=0.95] [urgency=high] [again] You charged my card twice for one order! "
    "I wrote last week and nobody answered. Call me on +49 170 1234567."
)


class SentenceEvidenceClassifier(MarkerClassifier):
    """The marker classifier, with the sentence that mentions money or waiting as evidence."""

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        results = super().predict(texts)
        for text, scores in zip(texts, results, strict=True):
            plain = MARKER.sub("", text)
            sentences = [s.strip() for s in SENTENCE.findall(plain) if re.search(r"charged|nobody", s)]
            evidence = [Evidence(text=s, weight=1.0 - 0.1 * i) for i, s in enumerate(sentences)]
            if scores.frustration is not None:
                scores.frustration.evidence = evidence[:1]
            if scores.urgency is not None:
                scores.urgency.evidence = evidence[1:2]
        return results


@dataclass
class World:
    earlier_id: str
    ticket_id: str


def build_world(sessions: sessionmaker[Session], *, tenant: str = "default") -> World:
    """Store and triage an earlier calm ticket and a later angry one from the same requester."""
    ids = []
    for external_id, body in (("E-1", FIRST), ("E-2", SECOND)):
        with sessions.begin() as session:
            ids.append(
                store_ticket(
                    session,
                    Ticket(
                        tenant=tenant,
                        source="zendesk",
                        external_id=external_id,
                        subject="Billing",
                        messages=[Message(author_role="customer", body=body)],
                        requester_id="cust-7",
                        priority="normal",
                    ),
                ).ticket_id
            )
        triage_tickets(
            sessions=sessions,
            ticket_ids=[ids[-1]],
            classifier=SentenceEvidenceClassifier(),
            policy=load_policy(None),
            connectors_for=lambda tenant: {},
            max_deliveries=5,
            drafter=lexical_drafter(),
        )
    return World(earlier_id=ids[0], ticket_id=ids[1])

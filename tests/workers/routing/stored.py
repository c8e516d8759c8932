"""Tickets triaged through the real pipeline into a test database, with the fake classifier."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.classifier import MarkerClassifier
from workers.connectors.base import Connector
from workers.drafts.encoder import LexicalEncoder
from workers.drafts.library import load_library
from workers.drafts.retrieval import RetrievalBackend
from workers.pipeline import TriageOutcome, triage_tickets
from workers.routing.policy import Policy, load_policy


def lexical_drafter() -> RetrievalBackend:
    """Return the retrieval backend on word overlap: the real ranking code without loading MiniLM."""
    return RetrievalBackend(load_library(), LexicalEncoder())


def triage_stored(
    sessions: sessionmaker[Session],
    ids: Sequence[str],
    *,
    policy: Policy | None = None,
    connectors: dict[str, Connector] | None = None,
) -> list[TriageOutcome]:
    """Triage stored tickets as the worker does."""
    return triage_tickets(
        sessions=sessions,
        ticket_ids=ids,
        classifier=MarkerClassifier(),
        policy=policy or load_policy(None),
        connectors_for=lambda tenant: connectors or {},
        max_deliveries=5,
        drafter=lexical_drafter(),
    )

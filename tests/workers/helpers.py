"""Builders shared by worker tests: stored tickets and connectors that answer as scripted."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session, sessionmaker

from service.domain import Message, Ticket
from service.tickets.service import store_ticket
from workers.connectors.base import Connector, DeliveryResult, OutboundAction


def add_ticket(
    sessions: sessionmaker[Session],
    body: str,
    *,
    external_id: str = "T-1",
    requester_id: str | None = "cust-1",
    tenant: str = "default",
) -> str:
    with sessions.begin() as session:
        result = store_ticket(
            session,
            Ticket(
                tenant=tenant,
                source="api",
                external_id=external_id,
                subject="Help",
                messages=[Message(author_role="customer", body=body)],
                requester_id=requester_id,
            ),
        )
    return result.ticket_id


class ScriptedConnector(Connector):
    """Answers each try with the next scripted result and records what it was asked to send."""

    name = "webhook"

    def __init__(self, results: Iterable[DeliveryResult] = ()):
        self.results = list(results)
        self.sent: list[OutboundAction] = []

    def deliver(self, action: OutboundAction) -> DeliveryResult:
        self.sent.append(action)
        return self.results.pop(0) if self.results else DeliveryResult(ok=True, status_code=200)

"""A customer's whole footprint as the service stores it, and a grep over every text column of every table."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import JSON, String, Text, cast, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain import AuthorRole, Message, Ticket
from service.feedback.schemas import FeedbackIn
from service.feedback.service import record_feedback
from service.storage.db import Base
from service.storage.models import ActionRow, TicketRow
from service.tickets.service import InboundDelivery, link_delivery, record_delivery, store_ticket
from tests.fakes.classifier import MarkerClassifier
from tests.workers.helpers import ScriptedConnector
from workers.drafts.base import Draft, DraftRequest
from workers.outbox import deliver_action
from workers.pipeline import triage_tickets
from workers.routing.policy import load_policy


@dataclass(frozen=True)
class Customer:
    """Strings that belong to one customer only, so a grep for them finds nothing else."""

    requester_id: str
    name: str
    order: str
    external_ids: tuple[str, ...]
    tenant: str = "default"

    @property
    def strings(self) -> list[str]:
        return [self.requester_id, self.name, self.order, *self.external_ids]

    @property
    def text_strings(self) -> list[str]:
        """What the customer wrote or is called: retention removes these; ids are kept."""
        return [self.requester_id, self.name, self.order]


ODALYS = Customer(
    requester_id="odalys.quenby@example.org",
    name="Odalys Quenby",
    order="ZX-99812",
    external_ids=("OQ-4471", "OQ-4472"),
)
BERTIL = Customer(
    requester_id="bertil.marwick@example.net",
    name="Bertil Marwick",
    order="KT-55310",
    external_ids=("BM-9001",),
)


class EchoDrafter:
    """A draft backend that quotes the customer, as a generative model may: drafts hold their text."""

    name = "echo"

    def drafts(self, request: DraftRequest, n: int = 3) -> list[Draft]:
        return [
            Draft(
                rank=1,
                text=f"Hello, about your message: {request.customer_text()}",
                backend=self.name,
                template_id=None,
                template_title=None,
                score=1.0,
                tone="neutral",
            )
        ]


@dataclass
class Footprint:
    ticket_ids: list[str] = field(default_factory=list)


def build_footprint(
    sessions: sessionmaker[Session], settings: Settings, customer: Customer, *, connector: str = "standard"
) -> Footprint:
    """Store the customer's tickets as a webhook delivers them, triage them, write back, take feedback."""
    footprint = Footprint()
    for number, external_id in enumerate(customer.external_ids):
        body = (
            f"Hi, this is {customer.name}. Order {customer.order} arrived broken "
            f"[frustration=0.9] [urgency=high] ({number})"
        )
        ticket = Ticket(
            tenant=customer.tenant,
            source="api",
            external_id=external_id,
            subject=f"Broken order {customer.order}",
            messages=[Message(author_role=AuthorRole.CUSTOMER, body=body)],
            requester_id=customer.requester_id,
        )
        delivery = InboundDelivery(connector, f"msg-{external_id}", hashlib.sha256(body.encode()).hexdigest())
        with sessions.begin() as session:
            record_delivery(session, tenant=customer.tenant, delivery=delivery)
            stored = store_ticket(session, ticket)
            link_delivery(session, tenant=customer.tenant, delivery=delivery, ticket_id=stored.ticket_id)
        footprint.ticket_ids.append(stored.ticket_id)
        connectors = {"webhook": ScriptedConnector()}
        [outcome] = triage_tickets(
            sessions=sessions,
            ticket_ids=[stored.ticket_id],
            classifier=MarkerClassifier(),
            policy=load_policy(None),
            connectors_for=lambda tenant, connectors=connectors: connectors,
            max_deliveries=5,
            drafter=EchoDrafter(),
        )
        assert outcome.status == "triaged", outcome
        for action_id in outcome.action_ids:
            deliver_action(
                sessions=sessions,
                action_id=action_id,
                connectors_for=lambda tenant, connectors=connectors: connectors,
                settings=settings,
            )
        with sessions.begin() as session:
            record_feedback(
                session,
                tenant=customer.tenant,
                ticket_id=stored.ticket_id,
                body=FeedbackIn(
                    agent="agent-7",
                    urgency="critical",
                    comment=f"{customer.name} called again about {customer.order}",
                    draft={"rank": 1, "verdict": "edited", "text": f"Dear {customer.name}, sorry."},
                ),
            )
    return footprint


def age(
    sessions: sessionmaker[Session], ticket_ids: Sequence[str], *, to: datetime, **values: object
) -> None:
    """Move the tickets' last activity (and any other column given) back in time."""
    with sessions.begin() as session:
        session.execute(
            update(TicketRow)
            .where(TicketRow.id.in_(ticket_ids))
            .values(updated_at=to, created_at=to, **values)
        )


def grep(session: Session, needles: Sequence[str]) -> dict[str, set[str]]:
    """Return, per needle, the `table.column` of every text or JSON value that contains it.

    Every table of the schema and every column that can hold text is read, so a new table or
    column is searched without changing this test.
    """
    found: dict[str, set[str]] = {needle: set() for needle in needles}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON) and not isinstance(
                getattr(column.type, "impl", None), String | Text | JSON
            ):
                continue
            values = session.scalars(select(cast(column, Text)).where(column.is_not(None)))
            for value in values:
                for needle in needles:
                    if needle in value:
                        found[needle].add(f"{table.name}.{column.name}")
    return found


def open_actions(session: Session, ticket_ids: Sequence[str]) -> int:
    return len(session.scalars(select(ActionRow.id).where(ActionRow.ticket_id.in_(ticket_ids))).all())

"""Tables: tickets and their messages, triage results, decisions, the outbound outbox, inbound deliveries,
agent feedback, and the audit trail of erasures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.storage.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC; hand back aware datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store UTC-aware values only")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def new_id() -> str:
    return uuid.uuid4().hex


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "external_id", name="uq_ticket_source"),
        # The retention job's two searches: text idle past the tenant's window, and tickets the
        # helpdesk closed or deleted (service/lifecycle/retention.py).
        Index("ix_tickets_retention", "tenant", "purged_at", "updated_at"),
        Index("ix_tickets_helpdesk_state", "tenant", "helpdesk_state", "purged_at", "helpdesk_state_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[str | None] = mapped_column(String(256), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    group: Mapped[str | None] = mapped_column("group_name", String(128))
    brand: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # revision counts the customer messages triage has been asked to look at; every new customer
    # message bumps it, and a triage result or decision is unique per (ticket, revision).
    revision: Mapped[int] = mapped_column(Integer, default=1)
    triaged_revision: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # What the helpdesk last said about the ticket: None (open, or never said), closed or deleted;
    # closed and deleted tickets may have their text purged sooner than open ones.
    helpdesk_state: Mapped[str | None] = mapped_column(String(16))
    helpdesk_state_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when retention removed the ticket's text; cleared when a delivery brings text again.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="ticket", order_by="MessageRow.position", cascade="all, delete-orphan"
    )


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("ticket_id", "position", name="uq_message_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[TicketRow] = relationship(back_populates="messages")


class TriageRow(Base):
    __tablename__ = "triage_results"
    __table_args__ = (UniqueConstraint("ticket_id", "revision", name="uq_triage_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    frustration_level: Mapped[str | None] = mapped_column(String(16))
    urgency_level: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DecisionRow(Base):
    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("ticket_id", "revision", name="uq_decision_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(64))
    # Up to three ranked reply drafts the worker wrote (workers/drafts), read by the assist API.
    drafts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ActionRow(Base):
    """The persisted outbox: one row per outbound effect, delivered at least once under one key."""

    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Stable across retries and redeliveries; sent as `webhook-id` / the helpdesk's idempotency key.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    connector: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundDeliveryRow(Base):
    """Delivery ids seen at intake, kept longer than any sender's retry window, to drop duplicates."""

    __tablename__ = "inbound_deliveries"
    __table_args__ = (UniqueConstraint("tenant", "connector", "delivery_id", name="uq_inbound_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    connector: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(256))
    # sha256 (hex) of the signed body: a reused id with other content is refused, not stored again.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The ticket the delivery stored or updated, so an erasure finds the deliveries it came in.
    ticket_id: Mapped[str | None] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class FeedbackRow(Base):
    """An agent's verdict on a triage or a draft."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(256))
    # draft (accepted/edited/rejected), frustration, urgency, or priority (a helpdesk-side change).
    kind: Mapped[str] = mapped_column(String(32), default="verdict", server_default="verdict")
    source: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")
    model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ErasureRow(Base):
    """One erasure request: who asked, when, by which selector, and how many rows it removed.

    It holds no customer text and no identifier of the customer: not the requester id, not the
    helpdesk ticket id. `reference` is the operator's own case number for the request.
    """

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    selector: Mapped[str] = mapped_column(String(16))  # requester | ticket
    actor: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))  # cli | api
    reference: Mapped[str | None] = mapped_column(String(128))
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    rows_removed: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

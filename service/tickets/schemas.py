"""Request and response bodies of the generic ticket API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.domain import AuthorRole, Decision, Message, Ticket, Triage

# Hard caps that hold whatever the settings say; the settings can only tighten them.
MAX_BODY_CHARS = 100_000
MAX_MESSAGES = 1_000


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author_role: AuthorRole = AuthorRole.CUSTOMER
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    created_at: datetime | None = None
    external_id: str | None = Field(None, max_length=128)


class TicketIn(BaseModel):
    """A ticket or a customer reply to one, in the generic JSON format."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "4711",
                    "subject": "Charged twice",
                    "requester_id": "cust-42",
                    "messages": [
                        {"author_role": "customer", "body": "You charged my card twice. Fix it today."}
                    ],
                }
            ]
        },
    )

    source: str = Field("api", pattern=r"^[a-z0-9_-]{1,32}$", description="Helpdesk the ticket lives in.")
    external_id: str = Field(min_length=1, max_length=128, description="The ticket's id in its helpdesk.")
    subject: str = Field("", max_length=1_000)
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    requester_id: str | None = Field(None, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=100)
    priority: str | None = Field(None, max_length=32)
    language: str | None = Field(None, max_length=16)
    group: str | None = Field(None, max_length=128)
    brand: str | None = Field(None, max_length=128)

    def to_ticket(self, tenant: str, *, source: str | None = None) -> Ticket:
        """Return the canonical ticket for `tenant`; `source` overrides the one in the body."""
        return Ticket(
            tenant=tenant,
            source=source or self.source,
            external_id=self.external_id,
            subject=self.subject,
            messages=[Message(**m.model_dump()) for m in self.messages],
            requester_id=self.requester_id,
            tags=self.tags,
            priority=self.priority,
            language=self.language,
            group=self.group,
            brand=self.brand,
        )


class TicketAccepted(BaseModel):
    ticket_id: str
    status: str
    revision: int
    queued: bool = Field(description="False when the queue was unreachable; the sweep enqueues it later.")
    duplicate: bool = Field(False, description="True when nothing new arrived (a repeated delivery).")
    status_url: str


class ActionOut(BaseModel):
    id: str
    kind: str
    connector: str
    status: str
    attempts: int
    idempotency_key: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class MessageOut(BaseModel):
    author_role: str
    body: str
    created_at: datetime


class TicketOut(BaseModel):
    id: str
    tenant: str
    source: str
    external_id: str
    subject: str
    status: str
    revision: int
    triaged_revision: int
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut]
    triage: Triage | None
    decision: Decision | None
    actions: list[ActionOut]


class Problem(BaseModel):
    """An error body: `detail` says what went wrong, naming the field where there is one."""

    detail: Any

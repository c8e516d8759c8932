"""The canonical shapes every intake, model, policy and connector speaks: Ticket, Scores, Triage, Decision."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

FRUSTRATION_LEVELS = ("none", "mild", "moderate", "severe")
URGENCY_LEVELS = ("low", "normal", "high", "critical")
# What a ticket is about, as the model's topic head and the support corpus name it; reply drafting
# uses it so that a template stating facts (an incident, a refund) is only offered on its own topic.
TOPICS = (
    "billing_error",
    "refund",
    "delivery",
    "account_access",
    "security_incident",
    "outage",
    "data_loss",
    "bug",
    "performance",
    "how_to",
    "feature_request",
    "cancellation",
    "account_change",
    "service_complaint",
    "praise",
    "other",
)


class AuthorRole(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class TicketStatus(StrEnum):
    ACCEPTED = "accepted"  # stored; waiting for a worker (queued, or left for the sweep)
    TRIAGING = "triaging"  # a worker picked it up
    TRIAGED = "triaged"  # scored and routed for its current revision
    FAILED = "failed"  # parked after max_task_deliveries tries


class ActionStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"  # shadow mode, or no connector configured


class Message(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(frozen=True)

    author_role: AuthorRole
    body: str
    created_at: datetime | None = None
    external_id: str | None = None

    @field_validator("created_at")
    @classmethod
    def _assume_utc(cls, value: datetime | None) -> datetime | None:
        """Read a timestamp without a zone as UTC: helpdesks that omit it send UTC, and storage needs one."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Ticket(BaseModel):
    """A support ticket as every part of the service sees it, whatever helpdesk it came from."""

    id: str | None = None
    tenant: str = "default"
    source: str
    external_id: str
    subject: str = ""
    messages: list[Message]
    requester_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    priority: str | None = None
    language: str | None = None
    group: str | None = None
    brand: str | None = None

    def customer_messages(self) -> list[Message]:
        """Return the customer's messages, oldest first."""
        return [m for m in self.messages if m.author_role == AuthorRole.CUSTOMER]


class Evidence(BaseModel):
    """A span of the customer's text that drove a score, with its share of the score."""

    text: str
    weight: float
    message_index: int | None = None
    start: int | None = None
    end: int | None = None


class FrustrationScore(BaseModel):
    probability: float = Field(ge=0.0, le=1.0)
    level: str
    evidence: list[Evidence] = Field(default_factory=list)


class UrgencyScore(BaseModel):
    distribution: dict[str, float]
    level: str
    probability: float = Field(ge=0.0, le=1.0, description="Calibrated probability of the top level.")
    evidence: list[Evidence] = Field(default_factory=list)


class TopicScore(BaseModel):
    """The most probable topic of a text, with its calibrated probability."""

    label: str
    probability: float = Field(ge=0.0, le=1.0)


class Scores(BaseModel):
    """What a classifier says about one text. Unsupported languages carry no scores, only the reason."""

    frustration: FrustrationScore | None
    urgency: UrgencyScore | None
    language: str | None = None
    supported: bool = True
    reason_codes: list[str] = Field(default_factory=list)
    model_version: str
    # None for models without a topic head (before 1.1.0) and for unscored texts.
    topic: TopicScore | None = None


class Triage(BaseModel):
    """The scores of a ticket at one revision of its conversation."""

    ticket_id: str
    revision: int
    frustration: FrustrationScore | None
    urgency: UrgencyScore | None
    language: str | None
    supported: bool
    reason_codes: list[str]
    model_version: str
    timings_ms: dict[str, float] = Field(default_factory=dict)
    history: dict[str, Any] = Field(default_factory=dict)
    topic: TopicScore | None = None


class ActionKind(StrEnum):
    TRIAGED = "ticket.triaged"
    ESCALATED = "ticket.escalated"
    REPLY_DRAFTED = "ticket.reply_drafted"


class PlannedAction(BaseModel):
    """One action a policy chose, with the reason an operator reads."""

    kind: ActionKind
    reason: str
    rule: str
    params: dict[str, Any] = Field(default_factory=dict)
    shadow: bool = False


class Decision(BaseModel):
    ticket_id: str
    revision: int
    actions: list[PlannedAction]
    policy_version: str

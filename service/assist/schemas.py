"""Bodies of the agent-assist API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Segment(BaseModel):
    """A run of a message's text; `highlight` marks evidence that drove a score."""

    text: str
    highlight: bool = False
    signal: str | None = None  # frustration or urgency, for highlighted runs
    weight: float | None = None


class AssistMessage(BaseModel):
    index: int
    author_role: str
    created_at: datetime
    segments: list[Segment]


class ScoreView(BaseModel):
    level: str
    probability: float = Field(description="Calibrated probability behind the level.")
    confidence: str = Field(description="low, medium or high, from the probability.")
    distribution: dict[str, float] | None = None


class TriageView(BaseModel):
    revision: int
    model_version: str
    supported: bool
    language: str | None
    frustration: ScoreView | None
    urgency: ScoreView | None
    reason_codes: list[str]


class EarlierTicketView(BaseModel):
    ticket_id: str
    external_id: str
    subject: str
    created_at: datetime
    status: str
    frustration: str | None
    urgency: str | None


class HistoryView(BaseModel):
    earlier: list[EarlierTicketView]
    frustration_trend: list[str] = Field(description="Levels oldest first, ending with this ticket's.")
    trend: str = Field(description="rising, falling, steady or unknown.")


class DraftView(BaseModel):
    rank: int
    text: str
    backend: str
    template_id: str | None = None
    template_title: str | None = None
    score: float
    tone: str
    fallback: str | None = None


class SuggestedAction(BaseModel):
    action: str = Field(description="tag, note, draft_reply, raise_priority, reassign_group or page_on_call.")
    mode: str = Field(description="auto (carried out) or suggest (for the agent to decide).")
    shadow: bool = Field(description="Shadow-mode rule: decided and recorded, nothing written.")
    rule: str
    reason: str
    confidence: float | None = None
    value: str | None = None


class TicketView(BaseModel):
    id: str
    external_id: str
    source: str
    subject: str
    status: str
    revision: int
    priority: str | None
    tags: list[str]
    group: str | None
    brand: str | None


class Assist(BaseModel):
    """Everything an agent needs beside a ticket, computed by the worker and read here."""

    ticket: TicketView
    triage: TriageView | None
    messages: list[AssistMessage]
    history: HistoryView
    drafts: list[DraftView]
    actions: list[SuggestedAction]
    policy_version: str | None
    feedback_url: str

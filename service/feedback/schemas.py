"""Bodies of the feedback API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.text import NOT_ONLY_NUL, NulFreeStr

# Revisions are stored as 32-bit integers (PostgreSQL `integer`): a larger one names no stored revision,
# and PostgreSQL refused to compare it (DataError, a 500), so the body is refused instead.
MAX_REVISION = 2**31 - 1

FrustrationLevel = Literal["none", "mild", "moderate", "severe"]
UrgencyLevel = Literal["low", "normal", "high", "critical"]


class DraftVerdict(BaseModel):
    # The schema states what `_edited_needs_text` enforces, so clients and fuzzers see the rule: a
    # character that is neither white space nor NUL (which is stripped).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"verdict": {"const": "edited"}}, "required": ["verdict"]},
            "then": {
                "required": ["text"],
                "properties": {"text": {"type": "string", "pattern": "[^\\s\\x00]"}},
            },
        },
    )

    rank: int = Field(ge=1, le=3, description="Which of the ranked drafts (1 = best).")
    verdict: Literal["accepted", "edited", "rejected"]
    text: NulFreeStr | None = Field(
        None, max_length=10_000, description="The agent's edited text, for `edited`."
    )

    @model_validator(mode="after")
    def _edited_needs_text(self) -> DraftVerdict:
        if self.verdict == "edited" and not (self.text and self.text.strip()):
            raise ValueError("an edited draft needs its text")
        return self


class FeedbackIn(BaseModel):
    """An agent's verdict on a draft and/or corrections of the scores; at least one of them."""

    # `anyOf` states what `_something` enforces: a draft verdict, a frustration or an urgency level that
    # is not null.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["draft"], "properties": {"draft": {"type": "object"}}},
                {"required": ["frustration"], "properties": {"frustration": {"type": "string"}}},
                {"required": ["urgency"], "properties": {"urgency": {"type": "string"}}},
            ],
            "examples": [
                {"agent": "jane@example.com", "draft": {"rank": 1, "verdict": "accepted"}},
                {"agent": "jane@example.com", "frustration": "mild", "urgency": "high"},
            ],
        },
    )

    agent: NulFreeStr = Field(
        min_length=1,
        max_length=256,
        pattern=NOT_ONLY_NUL,
        description="Who gives the feedback (helpdesk user).",
    )
    revision: int | None = Field(
        None, ge=1, le=MAX_REVISION, description="Triage revision it is about; default the latest."
    )
    draft: DraftVerdict | None = None
    frustration: FrustrationLevel | None = Field(None, description="The level the agent says is right.")
    urgency: UrgencyLevel | None = Field(None, description="The level the agent says is right.")
    comment: NulFreeStr | None = Field(None, max_length=2_000)

    @model_validator(mode="after")
    def _something(self) -> FeedbackIn:
        if self.draft is None and self.frustration is None and self.urgency is None:
            raise ValueError("give a draft verdict, a frustration or an urgency level")
        return self


class FeedbackRecorded(BaseModel):
    id: int
    kind: str
    verdict: str = Field(description="accepted, edited, rejected (drafts); confirmed or overridden (scores).")
    created_at: datetime


class FeedbackOut(BaseModel):
    ticket_id: str
    revision: int
    model_version: str | None
    recorded: list[FeedbackRecorded]

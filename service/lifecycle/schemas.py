"""Erasure requests and their audit records, as the admin API and `triage erase` read and write them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Who asked: an operator's user name or an employee's login, never the customer.
Actor = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
# The operator's own case number for the request (a ticket in their privacy tracker). No spaces and
# no `@`, so an e-mail address or a name cannot end up in the audit trail by mistake.
Reference = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:#/-]+$")]

# Identifiers as stored: any text without control characters (PostgreSQL refuses NUL in a query).
Identifier = Annotated[str, Field(min_length=1, pattern=r"^[^\x00-\x1f\x7f]+$")]

Selector = Literal["requester", "ticket"]


class ErasureIn(BaseModel):
    """Erase one customer (`requester_id`) or one helpdesk ticket (`ticket_id`) of the calling tenant."""

    # `oneOf` states what `_one_selector` enforces, so clients and fuzzers see it in the schema: exactly
    # one selector, and `source` only beside a ticket id.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["requester_id"],
                    "properties": {"requester_id": {"type": "string"}},
                    "not": {"anyOf": [{"required": ["ticket_id"]}, {"required": ["source"]}]},
                },
                {
                    "required": ["ticket_id"],
                    "properties": {"ticket_id": {"type": "string"}},
                    "not": {"required": ["requester_id"]},
                },
            ]
        },
    )

    requester_id: Identifier | None = Field(
        None,
        max_length=256,
        description="The requester as the helpdesk sends it (its user id, or the e-mail for Freshdesk).",
    )
    ticket_id: Identifier | None = Field(
        None, max_length=128, description="The helpdesk's ticket id (not ours)."
    )
    source: Identifier | None = Field(
        None,
        max_length=32,
        description="The helpdesk (`zendesk`, `api`, ...): needed when a ticket id exists in several.",
    )
    actor: Actor = Field(description="Who performs the erasure, for the audit trail.")
    reference: Reference | None = Field(None, description="Your case number for the request.")
    dry_run: bool = Field(False, description="Count what would be removed; remove nothing, record nothing.")

    @model_validator(mode="after")
    def _one_selector(self) -> ErasureIn:
        if (self.requester_id is None) == (self.ticket_id is None):
            raise ValueError("give exactly one of requester_id and ticket_id")
        if self.source is not None and self.ticket_id is None:
            raise ValueError("source narrows a ticket_id; it does not apply to requester_id")
        return self


class ErasureOut(BaseModel):
    """An erasure as the audit trail keeps it: who, when, by which selector, and the rows removed.

    It never holds the requester or ticket id that was erased.
    """

    id: int | None = Field(description="The audit record's id; none for a dry run.")
    tenant: str
    selector: Selector
    actor: str
    via: str
    reference: str | None
    requested_at: datetime
    counts: dict[str, int] = Field(description="Rows removed per table.")
    rows_removed: int
    dry_run: bool = False

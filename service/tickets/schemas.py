"""Request and response bodies of the generic ticket API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from service.domain import AuthorRole, Decision, Message, Ticket, Triage
from service.ids import GENERIC_PATTERN, check_external_id

# An ISO-8601 date-time of the years 2 to 9998. In years 1 and 9999 a zone offset can move a time out
# of the calendar once it is read in UTC (Python's datetime overflows), and no message is that old or
# new. The schema states the same pattern, so what it calls valid is what intake accepts.
ISO_DATE_PATTERN = r"^(?!0001-|9999-)[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]"
ISO_DATE = re.compile(ISO_DATE_PATTERN)

# Hard caps that hold whatever the settings say; the settings can only tighten them.
MAX_BODY_CHARS = 100_000
MAX_MESSAGES = 1_000


def document_limits(components: dict[str, Any], *, max_messages: int, max_message_chars: int) -> None:
    """Write the configured message limits into the OpenAPI schemas of a ticket body.

    `POST /v1/tickets` refuses (422) more messages, or longer ones, than the settings allow, so the
    schema clients and fuzzers read states those limits, not only the hard caps above.
    """
    messages = components["TicketIn"]["properties"]["messages"]
    messages["maxItems"] = min(max_messages, MAX_MESSAGES)
    body = components["MessageIn"]["properties"]["body"]
    body["maxLength"] = min(max_message_chars, MAX_BODY_CHARS)


def _date_time_string(value: Any) -> Any:
    """Refuse numbers for a date-time: the schema says an ISO-8601 string, and `0` is not a time.

    pydantic alone also reads `0` or `"1700000000"` as unix seconds, which the schema does not allow.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or ISO_DATE.match(value) is None:
        raise ValueError("expected an ISO-8601 date-time string of the years 2 to 9998")
    return value


DateTimeString = Annotated[datetime, BeforeValidator(_date_time_string)]


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author_role: AuthorRole = AuthorRole.CUSTOMER
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    created_at: DateTimeString | None = Field(
        None,
        description="ISO-8601, years 2 to 9998; without a zone it is read as UTC.",
        json_schema_extra={"pattern": ISO_DATE_PATTERN},
    )
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
    external_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=GENERIC_PATTERN,
        description="The ticket's id in its helpdesk. Zendesk, Freshdesk, Zammad and Help Scout: a "
        "positive integer; Intercom: digits; other sources: A-Z a-z 0-9 . _ : - without `..`.",
    )
    subject: str = Field("", max_length=1_000)
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    requester_id: str | None = Field(None, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=100)
    priority: str | None = Field(None, max_length=32)
    language: str | None = Field(None, max_length=16)
    group: str | None = Field(None, max_length=128)
    brand: str | None = Field(None, max_length=128)

    @field_validator("external_id")
    @classmethod
    def _id_fits_its_source(cls, value: str, info: ValidationInfo) -> str:
        """Refuse an id its helpdesk could not have issued: connectors put it in API paths."""
        return check_external_id(info.data.get("source", "api"), value)

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


# FastAPI's answer to a JSON body that is not UTF-8, given before any parsing.
NOT_UTF8: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Body is not UTF-8 text (JSON must be)."}
}

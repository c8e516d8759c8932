"""Response bodies of the webhook intake."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from service.ids import DIGITS, GENERIC_PATTERN, POSITIVE_INTEGER, check_external_id, id_pattern
from service.tickets.schemas import TicketIn


class WebhookTicket(BaseModel):
    ticket_id: str
    revision: int
    duplicate: bool
    queued: bool


class WebhookAccepted(BaseModel):
    """What a helpdesk gets back: 202 with the tickets stored, or 200 when the event was ignored."""

    status: str  # accepted | duplicate | ignored
    duplicate: bool = False
    reason: str | None = None
    tickets: list[WebhookTicket] = []


# Request bodies of each vendor's webhook. Validating into these turns a malformed signed payload into
# a 422 naming the field (a helpdesk retries a 5xx forever; a 4xx tells it to stop). Vendors send far
# more fields than these: unknown ones are ignored. Ids may arrive as JSON numbers; they are read as
# strings and must have the shape their helpdesk issues (service/ids.py).


class VendorPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


# JavaScript's largest exact integer: the number forms the schemas document stay within it.
MAX_SAFE_INTEGER = 2**53 - 1
NUMBER_FOR_ID = {
    "^" + POSITIVE_INTEGER.pattern + "$": {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER},
    "^" + DIGITS.pattern + "$": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER},
}


class VendorJsonSchema(GenerateJsonSchema):
    """Document what `coerce_numbers_to_str` lets in: a vendor's string field may be a JSON number.

    Zammad and Help Scout send ids and references as numbers (tests/fixtures/webhooks); the published
    schema said strings only, so their own payloads were invalid by it. An id's number must be one its
    pattern allows once written in decimal; any other field takes a number whose text fits its length.
    """

    coerce_numbers = False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        outer = self.coerce_numbers
        self.coerce_numbers = bool(schema.get("config", {}).get("coerce_numbers_to_str"))
        try:
            return super().model_schema(schema)
        finally:
            self.coerce_numbers = outer

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        text = super().str_schema(schema)
        if not self.coerce_numbers:
            return text
        pattern = schema.get("pattern")
        if pattern is not None:
            number = NUMBER_FOR_ID.get(str(pattern))
            return {"anyOf": [text, number]} if number is not None else text
        # The longest text of a number within these bounds is 24 characters (a float's repr).
        if schema.get("max_length", 24) < 24:
            return text
        return {
            "anyOf": [text, {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}]
        }


def when(field_name: str, value: str, then: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON-schema rule: if `field_name` is `value`, the body must also match `then`."""
    return {"if": {"properties": {field_name: {"const": value}}, "required": [field_name]}, "then": then}


def has(*path: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON schema requiring the value at `path` (object keys) to exist and match `schema`."""
    for key in reversed(path):
        schema = {"type": "object", "required": [key], "properties": {key: schema}}
    return schema


TEXT: dict[str, Any] = {"type": "string", "minLength": 1}


def whole_number(value: Any) -> Any:
    """Read an id sent as a whole number with a fraction part (`77.0`) as `77`.

    The schema documents number ids as JSON-schema integers, and 77.0 is one of those.
    """
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = BeforeValidator(whole_number)
ZendeskId = Annotated[
    str,
    Field(pattern=id_pattern("zendesk")),
    WholeNumber,
    AfterValidator(partial(check_external_id, "zendesk")),
]
FreshdeskId = Annotated[
    str,
    Field(pattern=id_pattern("freshdesk")),
    WholeNumber,
    AfterValidator(partial(check_external_id, "freshdesk")),
]
ZammadId = Annotated[
    str,
    Field(pattern=id_pattern("zammad")),
    WholeNumber,
    AfterValidator(partial(check_external_id, "zammad")),
]
HelpScoutId = Annotated[
    str,
    Field(pattern=id_pattern("helpscout")),
    WholeNumber,
    AfterValidator(partial(check_external_id, "helpscout")),
]
IntercomId = Annotated[
    str,
    Field(pattern=id_pattern("intercom")),
    WholeNumber,
    AfterValidator(partial(check_external_id, "intercom")),
]
# Column sizes of the tickets and messages tables: longer values would fail on PostgreSQL only.
EventId = Annotated[str, Field(min_length=1, max_length=256)]
Reference = Annotated[str, Field(max_length=256)]
Priority = Annotated[str, Field(max_length=32)]
GroupName = Annotated[str, Field(max_length=128)]
MessageId = Annotated[str, Field(max_length=128)]
Body = Annotated[str, Field(min_length=1)]
Status = Annotated[str, Field(max_length=32)]
Tag = Annotated[str, Field(max_length=128)]


class ZendeskTicketDetail(VendorPayload):
    id: ZendeskId
    subject: str | None = None
    description: str | None = None
    requester_id: Reference | None = None
    tags: list[Tag] | None = None
    priority: Priority | None = None
    group_id: GroupName | None = None


class ZendeskCreatedDetail(ZendeskTicketDetail):
    description: Body


class ZendeskAuthor(VendorPayload):
    id: Reference | None = None
    is_staff: bool = False


class ZendeskComment(VendorPayload):
    id: MessageId | None = None
    body: Body
    is_public: bool | None = None
    author: ZendeskAuthor = Field(default_factory=ZendeskAuthor)


class ZendeskCommentEvent(VendorPayload):
    comment: ZendeskComment


class ZendeskTicketCreated(VendorPayload):
    """Zendesk event webhook `zen:event-type:ticket.created`."""

    type: Literal["zen:event-type:ticket.created"]
    id: EventId
    detail: ZendeskCreatedDetail


class ZendeskCommentAdded(VendorPayload):
    """Zendesk event webhook `zen:event-type:ticket.comment_added`."""

    type: Literal["zen:event-type:ticket.comment_added"]
    id: EventId
    detail: ZendeskTicketDetail
    event: ZendeskCommentEvent


class ZendeskOtherEvent(VendorPayload):
    """Any other Zendesk event type: verified, then ignored (200)."""

    type: str


class ZendeskTrigger(VendorPayload):
    """The trigger webhook body an admin pastes from docs/connectors.md."""

    triage_template: Literal["zendesk-trigger-v1"]
    ticket_id: ZendeskId
    latest_comment: Body
    subject: str | None = None
    requester_id: Reference | None = None
    author_id: Reference | None = None
    priority: Priority | None = None
    group: GroupName | None = None
    tags: str | list[Tag] | None = Field(None, description="`{{ticket.tags}}`: space-separated.")


class ZendeskStateDetail(VendorPayload):
    id: ZendeskId
    status: Status | None = None


class ZendeskTicketState(VendorPayload):
    """Zendesk event webhooks that change a ticket's life: status changed, (soft or for good) deleted."""

    type: Literal[
        "zen:event-type:ticket.status_changed",
        "zen:event-type:ticket.soft_deleted",
        "zen:event-type:ticket.permanently_deleted",
        "zen:event-type:ticket.undeleted",
    ]
    id: EventId
    detail: ZendeskStateDetail


class FreshdeskTicket(VendorPayload):
    id: FreshdeskId
    subject: str | None = None
    description: str | None = None
    latest_public_comment: str | None = None
    requester_email: Reference | None = None
    priority: Priority | None = None
    group: GroupName | None = None
    tags: str | list[Tag] | None = Field(None, description="`{{ticket.tags}}`: comma-separated.")


class FreshdeskRule(VendorPayload):
    """The automation-rule body an admin pastes from docs/connectors.md."""

    # A triaged event carries its message, as normalising requires (422 otherwise).
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                when("event", "ticket_created", has("ticket", "description", schema=TEXT)),
                when("event", "customer_reply", has("ticket", "latest_public_comment", schema=TEXT)),
            ]
        }
    )

    event: Annotated[str, Field(min_length=1, max_length=64)]
    ticket: FreshdeskTicket


class FreshdeskTicketRef(VendorPayload):
    id: FreshdeskId


class FreshdeskStateRule(VendorPayload):
    """The rule body for a ticket closed, resolved, deleted or reopened (docs/connectors.md)."""

    event: Literal["ticket_closed", "ticket_deleted", "ticket_reopened"]
    ticket: FreshdeskTicketRef


class ZammadReference(VendorPayload):
    name: GroupName | None = None


class ZammadCustomer(VendorPayload):
    id: Reference | None = None


class ZammadTicket(VendorPayload):
    id: ZammadId
    title: str | None = None
    customer_id: Reference | None = None
    customer: ZammadCustomer | None = None
    tags: list[Tag] | None = None
    priority: ZammadReference | GroupName | None = None
    group: ZammadReference | GroupName | None = None
    state: ZammadReference | GroupName | None = None


class ZammadArticle(VendorPayload):
    id: MessageId | None = None
    body: Body
    content_type: str | None = None
    internal: bool = False
    sender: ZammadReference | GroupName | None = None
    created_by_id: Reference | None = None


class ZammadTrigger(VendorPayload):
    """Zammad's default trigger payload; `article` is absent or empty for updates without a message."""

    ticket: ZammadTicket
    article: ZammadArticle | None = None


class HelpScoutPerson(VendorPayload):
    id: Reference | None = None
    type: str | None = None


class HelpScoutThread(VendorPayload):
    id: MessageId | None = None
    type: str | None = None
    body: str | None = None
    createdAt: str | None = None  # Help Scout's camelCase names
    createdBy: HelpScoutPerson = Field(default_factory=HelpScoutPerson)


class HelpScoutThreads(VendorPayload):
    threads: list[HelpScoutThread] = Field(min_length=1)


class HelpScoutTag(VendorPayload):
    tag: Tag


class HelpScoutConversation(VendorPayload):
    """A Help Scout v2 Conversation object: the body of every `convo.*` event.

    The event is named in the `X-HelpScout-Event` header, which a body schema cannot refer to, so every
    event has this one shape. `convo.created` and `convo.customer.reply.created` triage the customer
    threads under `_embedded.threads`; a conversation without a customer thread with a body (one
    started by an agent, or a status-event shape such as `{"id", "status"}`) is accepted and ignored
    (200). `convo.status` records `status` (closed and spam close the ticket, any other reopens it);
    `convo.deleted` sends `{"id"}` only. Other events are ignored (200).
    """

    id: HelpScoutId
    status: Status | None = None
    subject: str | None = None
    primaryCustomer: HelpScoutPerson = Field(default_factory=HelpScoutPerson)  # Help Scout's camelCase
    tags: list[HelpScoutTag | Tag] | None = None
    embedded: HelpScoutThreads | None = Field(None, alias="_embedded")


class IntercomAuthor(VendorPayload):
    id: Reference | None = None
    type: str | None = None


class IntercomPart(VendorPayload):
    id: MessageId | None = None
    body: Body
    subject: str | None = None
    author: IntercomAuthor = Field(default_factory=IntercomAuthor)


class IntercomParts(VendorPayload):
    conversation_parts: list[IntercomPart] = Field(default_factory=list)


class IntercomTag(VendorPayload):
    name: Tag


class IntercomTags(VendorPayload):
    tags: list[IntercomTag] = Field(default_factory=list)


class IntercomConversation(VendorPayload):
    id: IntercomId
    title: str | None = None
    source: IntercomPart | None = None
    conversation_parts: IntercomParts | None = None
    tags: IntercomTags = Field(default_factory=IntercomTags)


class IntercomData(VendorPayload):
    item: IntercomConversation


class IntercomNotification(VendorPayload):
    """An Intercom `notification_event` for a conversation topic."""

    # A triaged topic carries its part: the first message, or the replies (422 otherwise).
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                when(
                    "topic",
                    "conversation.user.created",
                    has("data", "item", "source", schema={"type": "object"}),
                ),
                when(
                    "topic",
                    "conversation.user.replied",
                    has(
                        "data",
                        "item",
                        "conversation_parts",
                        "conversation_parts",
                        schema={"type": "array", "minItems": 1},
                    ),
                ),
            ]
        }
    )

    id: EventId
    topic: Annotated[str, Field(min_length=1, max_length=128)]
    data: IntercomData


class IntercomItemRef(VendorPayload):
    id: IntercomId


class IntercomStateData(VendorPayload):
    item: IntercomItemRef


class IntercomStateNotification(VendorPayload):
    """`conversation.admin.closed` and `conversation.admin.opened`: an admin closed or reopened it."""

    id: EventId
    topic: Literal["conversation.admin.closed", "conversation.admin.opened"]
    data: IntercomStateData


class StandardTicketRef(VendorPayload):
    source: str = Field("api", pattern=r"^[a-z0-9_-]{1,32}$")
    external_id: str = Field(min_length=1, max_length=128, pattern=GENERIC_PATTERN)

    @model_validator(mode="after")
    def _id_of_its_source(self) -> StandardTicketRef:
        check_external_id(self.source, self.external_id)
        return self


class StandardEnvelope(VendorPayload):
    """What every Standard Webhooks event has: its `type`, read before the body's shape is chosen."""

    type: str


class StandardStateEvent(VendorPayload):
    """A Standard Webhooks event for a ticket closed, deleted or reopened in the sending system."""

    type: Literal["ticket.closed", "ticket.deleted", "ticket.reopened"]
    data: StandardTicketRef


class StandardEvent(VendorPayload):
    """A Standard Webhooks event: `ticket.created` or `ticket.replied` with the generic ticket JSON."""

    type: Annotated[str, Field(max_length=64, examples=["ticket.created", "ticket.replied"])]
    data: TicketIn


def payload_error(exc: ValidationError, *, prefix: str = "") -> str:
    """Return the first validation error as `field.path: message`, the form every 422 uses."""
    first = exc.errors()[0]
    where = prefix + ".".join(str(part) for part in first["loc"])
    return f"{where or 'body'}: {first['msg']}"

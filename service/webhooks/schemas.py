"""Response bodies of the webhook intake."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.ids import GENERIC_PATTERN, check_external_id, id_pattern
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


ZendeskId = Annotated[
    str, Field(pattern=id_pattern("zendesk")), AfterValidator(partial(check_external_id, "zendesk"))
]
FreshdeskId = Annotated[
    str, Field(pattern=id_pattern("freshdesk")), AfterValidator(partial(check_external_id, "freshdesk"))
]
ZammadId = Annotated[
    str, Field(pattern=id_pattern("zammad")), AfterValidator(partial(check_external_id, "zammad"))
]
HelpScoutId = Annotated[
    str, Field(pattern=id_pattern("helpscout")), AfterValidator(partial(check_external_id, "helpscout"))
]
IntercomId = Annotated[
    str, Field(pattern=id_pattern("intercom")), AfterValidator(partial(check_external_id, "intercom"))
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
    """A Help Scout v2 Conversation object, the body of `convo.*` events."""

    id: HelpScoutId
    subject: str | None = None
    primaryCustomer: HelpScoutPerson = Field(default_factory=HelpScoutPerson)
    tags: list[HelpScoutTag | Tag] | None = None
    embedded: HelpScoutThreads = Field(alias="_embedded")


class HelpScoutConversationState(VendorPayload):
    """`convo.status` (a v2 Conversation with its `status`) and `convo.deleted` (`{"id": ...}` only)."""

    id: HelpScoutId
    status: Status | None = None


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

"""`/v1/tickets`: generic JSON intake and ticket status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import JSONResponse

from service.deps import SessionsDep, SettingsDep, TenantDep
from service.text import NO_NUL
from service.tickets import service
from service.tickets.schemas import NOT_UTF8, Problem, TicketAccepted, TicketIn, TicketOut

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing or invalid API key."},
    413: {"model": Problem, "description": "Body over the configured limit."},
    422: {"model": Problem, "description": "Malformed JSON or an invalid field; `detail` names it."},
    503: {"model": Problem, "description": "Database unavailable; retry after `Retry-After` seconds."},
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TicketAccepted,
    responses={**NOT_UTF8, **ERRORS},
    summary="Submit a ticket or a customer reply for triage",
)
def create_ticket(body: TicketIn, tenant: TenantDep, settings: SettingsDep, sessions: SessionsDep):
    """Store the ticket, queue it for triage and answer 202 with where to follow it."""
    if len(body.messages) > settings.max_messages:
        raise HTTPException(422, detail=f"messages: at most {settings.max_messages} allowed")
    for index, message in enumerate(body.messages):
        if len(message.body) > settings.max_message_chars:
            raise HTTPException(
                422, detail=f"messages.{index}.body: longer than {settings.max_message_chars} characters"
            )
    result = service.submit(sessions, settings, body.to_ticket(tenant.name))
    accepted = TicketAccepted(
        ticket_id=result.ticket_id,
        status=result.status,
        revision=result.revision,
        queued=result.queued,
        duplicate=result.duplicate,
        status_url=f"{settings.public_url.rstrip('/')}/v1/tickets/{result.ticket_id}",
    )
    return JSONResponse(
        accepted.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": accepted.status_url},
    )


@router.get(
    "/{ticket_id}",
    response_model=TicketOut,
    responses={404: {"model": Problem, "description": "No such ticket for this tenant."}, **ERRORS},
    summary="Status, triage, decision and action outcomes of a ticket",
)
def get_ticket(
    ticket_id: Annotated[str, Path(pattern=NO_NUL)], tenant: TenantDep, sessions: SessionsDep
) -> TicketOut:
    with sessions() as session:
        found = service.ticket_status(session, tenant=tenant.name, ticket_id=ticket_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="ticket not found")
    return found

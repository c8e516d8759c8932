"""`POST /v1/tickets/{id}/feedback`: an agent accepts, edits or rejects a draft, or corrects the scores."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from service.deps import SessionsDep, TenantDep
from service.feedback.schemas import FeedbackIn, FeedbackOut
from service.feedback.service import FeedbackError, record_feedback, verdict_of
from service.text import NO_NUL
from service.tickets.schemas import NOT_UTF8, Problem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/tickets", tags=["feedback"])


def _count(tenant: str, model_version: str | None, kind: str, verdict: str) -> None:
    """Count the verdict in the API's metrics, where the metrics module is installed."""
    try:
        from service.metrics import record_feedback as count
    except ImportError:  # metrics are optional for the feedback itself
        return
    count(
        tenant=tenant,
        model_version=model_version or "unknown",
        verdict=verdict_of(kind, {"verdict": verdict}),
    )


@router.post(
    "/{ticket_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses={
        **NOT_UTF8,
        401: {"model": Problem, "description": "Missing or invalid API key."},
        404: {"model": Problem, "description": "No such ticket for this tenant."},
        409: {"model": Problem, "description": "Not triaged yet, or no such draft for that revision."},
        413: {"model": Problem, "description": "Body over the configured limit."},
        422: {"model": Problem, "description": "Invalid body; `detail` names the field."},
    },
    summary="Record an agent's verdict on a draft and corrections of the scores",
)
def post_feedback(
    ticket_id: Annotated[str, Path(pattern=NO_NUL)],
    body: FeedbackIn,
    tenant: TenantDep,
    sessions: SessionsDep,
) -> FeedbackOut:
    """Store the feedback with who gave it and when; it feeds `triage feedback export`."""
    try:
        with sessions.begin() as session:
            result = record_feedback(session, tenant=tenant.name, ticket_id=ticket_id, body=body)
    except FeedbackError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="ticket not found")
    for item in result.recorded:
        _count(tenant.name, result.model_version, item.kind, item.verdict)
    return result

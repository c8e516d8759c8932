"""`GET /v1/tickets/{id}/assist` and the sidebar page at `/assist/{id}` that helpdesks embed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.assist.schemas import Assist
from service.assist.service import assist_view
from service.deps import SessionsDep, SettingsDep, TenantDep
from service.text import NO_NUL
from service.tickets.schemas import Problem

STATIC = Path(__file__).parent / "static"
ASSETS = {"assist.js": "text/javascript", "assist.css": "text/css"}

router = APIRouter(tags=["assist"])


@router.get(
    "/v1/tickets/{ticket_id}/assist",
    response_model=Assist,
    responses={
        401: {"model": Problem, "description": "Missing or invalid API key."},
        404: {"model": Problem, "description": "No such ticket for this tenant."},
    },
    summary="Scores, evidence, history, drafts and suggested actions for an agent",
)
def get_assist(
    ticket_id: Annotated[str, PathParam(pattern=NO_NUL)],
    tenant: TenantDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> Assist:
    """Return what the worker found for the ticket, with the rule behind each suggested action."""
    with sessions() as session:
        found = assist_view(session, tenant=tenant.name, ticket_id=ticket_id, public_url=settings.public_url)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="ticket not found")
    return found


def _page_headers(frame_ancestors: list[str]) -> dict[str, str]:
    # The page renders ticket text: scripts only from us, no inline code, and only the configured
    # helpdesk origins may frame it (clickjacking).
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {' '.join(frame_ancestors)}"
    )
    return {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }


@router.get("/assist/{ticket_id}", response_class=HTMLResponse, include_in_schema=False)
def assist_page(ticket_id: str, settings: SettingsDep) -> Response:
    """Serve the sidebar page; it holds no data and fetches the assist view with the caller's key."""
    return FileResponse(
        STATIC / "assist.html", media_type="text/html", headers=_page_headers(settings.assist_frame_ancestors)
    )


@router.get("/assist/static/{name}", include_in_schema=False)
def assist_asset(name: str) -> Response:
    """Serve the page's script and style; nothing else under the folder is reachable."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="not found")
    return FileResponse(STATIC / name, media_type=media_type, headers={"x-content-type-options": "nosniff"})

"""`/v1/admin/erasures`: erase one customer or one helpdesk ticket of the calling tenant, and list the audit.

Same authentication as the other admin routes: the tenant's API key, which scopes every erasure to
that tenant's data.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, status

from service.deps import SessionsDep, TenantDep
from service.lifecycle.schemas import ErasureIn, ErasureOut
from service.lifecycle.service import AmbiguousTicket, Erasure, count_holdings, erase, list_erasures, removed
from service.tickets.schemas import Problem

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/erasures",
    response_model=ErasureOut,
    responses={
        400: {"model": Problem, "description": "Body is not UTF-8 text (JSON must be)."},
        401: {"model": Problem, "description": "Missing or invalid API key."},
        409: {"model": Problem, "description": "The ticket id exists under several sources: name one."},
        422: {"model": Problem, "description": "Invalid body; `detail` names the field."},
    },
    summary="Erase everything stored about one customer or one helpdesk ticket, and record it",
)
def post_erasure(body: ErasureIn, tenant: TenantDep, sessions: SessionsDep) -> ErasureOut:
    """Remove the rows in one transaction and answer with the audit record; again, it removes nothing."""
    erasure = Erasure.from_request(tenant.name, body)
    try:
        if body.dry_run:
            with sessions() as session:
                counts = count_holdings(session, erasure)
            return ErasureOut(
                id=None,
                tenant=tenant.name,
                selector=erasure.selector,
                actor=body.actor,
                via="api",
                reference=body.reference,
                requested_at=datetime.now(UTC),
                counts=counts,
                rows_removed=removed(counts),
                dry_run=True,
            )
        with sessions.begin() as session:
            return erase(session, erasure, actor=body.actor, via="api", reference=body.reference)
    except AmbiguousTicket as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


@router.get(
    "/erasures",
    response_model=list[ErasureOut],
    responses={401: {"model": Problem, "description": "Missing or invalid API key."}},
    summary="The tenant's erasure audit trail, newest first",
)
def get_erasures(
    tenant: TenantDep, sessions: SessionsDep, limit: int = Query(100, ge=1, le=1000)
) -> list[ErasureOut]:
    with sessions() as session:
        return list_erasures(session, tenant=tenant.name, limit=limit)

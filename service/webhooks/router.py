"""`POST /v1/webhooks/{connector}/{tenant}`: each helpdesk's own webhook, verified as that vendor signs.

The tenant is in the path (or `?tenant=` on `/v1/webhooks/{connector}`, default `default`) because
helpdesks cannot send our API key: the signature, checked with that tenant's secret, is the
authentication. Statuses: 202 accepted (also a duplicate delivery, with `duplicate: true`), 200 for an
event that is ignored (our own notes, agent replies, topics we do not triage), 401 bad or missing
signature or no secret configured, 404 unknown connector or tenant, 413 body too large (middleware),
422 a signed payload we cannot read.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from service import metrics
from service.deps import SessionsDep, SettingsDep, tenants_dep
from service.tenants import TenantRegistry
from service.tickets.schemas import Problem
from service.webhooks import VENDORS
from service.webhooks.base import PayloadError, SignatureError
from service.webhooks.schemas import WebhookAccepted
from service.webhooks.service import submit_all, verify_and_normalise

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookAccepted, "description": "Verified but ignored (our own note, not a customer)."},
    401: {"model": Problem, "description": "Missing or invalid signature, or no secret configured."},
    404: {"model": Problem, "description": "Unknown connector, or tenant without it."},
    413: {"model": Problem, "description": "Body over the configured limit."},
    422: {"model": Problem, "description": "Signed, but not a payload this connector understands."},
}


async def _receive(
    connector: str,
    tenant_name: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    tenants: TenantRegistry,
) -> JSONResponse:
    vendor = VENDORS.get(connector)
    tenant = tenants.get(tenant_name)
    config = tenant.connector(connector) if tenant is not None else None
    if vendor is None or config is None:
        # One answer for all three, so a caller cannot probe which tenants exist.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown connector or tenant")
    raw_body = await request.body()
    try:
        outcome = verify_and_normalise(vendor, raw_body, dict(request.headers), config, tenant=tenant_name)
    except SignatureError as exc:
        log.warning("webhook %s/%s refused: %s", connector, tenant_name, exc)
        metrics.record_webhook(connector, "bad_signature")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"signature refused: {exc}") from exc
    except PayloadError as exc:
        metrics.record_webhook(connector, "invalid")
        raise HTTPException(422, detail=str(exc)) from exc
    accepted = await run_in_threadpool(submit_all, sessions, settings, connector, outcome)
    metrics.record_webhook(connector, accepted.status)  # accepted, duplicate or ignored
    code = status.HTTP_200_OK if accepted.status == "ignored" else status.HTTP_202_ACCEPTED
    return JSONResponse(accepted.model_dump(mode="json"), status_code=code)


@router.post(
    "/{connector}/{tenant}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=RESPONSES,
    summary="Receive a helpdesk webhook for one tenant",
)
async def receive_for_tenant(
    connector: str,
    tenant: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    tenants: Annotated[TenantRegistry, Depends(tenants_dep)],
) -> JSONResponse:
    """Verify the vendor's signature, normalise the event, store and queue it; 202."""
    return await _receive(connector, tenant, request, settings, sessions, tenants)


@router.post(
    "/{connector}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses=RESPONSES,
    summary="Receive a helpdesk webhook (tenant from `?tenant=`)",
)
async def receive(
    connector: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    tenants: Annotated[TenantRegistry, Depends(tenants_dep)],
    tenant: Annotated[str, Query(description="Tenant name.", max_length=64)] = "default",
) -> JSONResponse:
    """Same as `/{connector}/{tenant}`, for helpdesks whose URL field is easier with a query string."""
    return await _receive(connector, tenant, request, settings, sessions, tenants)

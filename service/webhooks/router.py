"""`POST /v1/webhooks/{connector}/{tenant}`: each helpdesk's own webhook, verified as that vendor signs.

The tenant is in the path (or `?tenant=` on `/v1/webhooks/{connector}`, default `default`) because
helpdesks cannot send our API key: the signature, checked with that tenant's secret, is the
authentication. Statuses: 202 accepted (also a duplicate delivery, with `duplicate: true`), 200 for an
event that is ignored (our own notes, agent replies, topics we do not triage), 401 bad or missing
signature, no secret configured or unknown tenant (one answer, so tenants cannot be enumerated), 404
unknown connector, 409 a delivery id reused with different content, 413 body too large and 422 JSON
nested too deep (middleware), 422 a signed payload we cannot read.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool

from service import metrics
from service.deps import SessionsDep, SettingsDep, tenants_dep
from service.tenants import ConnectorConfig, TenantRegistry
from service.tickets.schemas import Problem
from service.tickets.service import DeliveryConflict
from service.webhooks import VENDOR_BODIES, VENDORS
from service.webhooks.base import PayloadError, SignatureError
from service.webhooks.schemas import VendorJsonSchema, WebhookAccepted
from service.webhooks.service import submit_all, verify_and_normalise

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookAccepted, "description": "Verified but ignored (our own note, not a customer)."},
    401: {
        "model": Problem,
        "description": "Missing or invalid signature, no secret configured, or no such tenant (one "
        "answer for all, so tenant names cannot be probed).",
    },
    409: {"model": Problem, "description": "A delivery id seen before, with different signed content."},
    413: {"model": Problem, "description": "Body over the configured limit."},
    422: {
        "model": Problem,
        "description": "Signed, but not a payload this connector understands (or JSON nested too deep); "
        "`detail` names the field.",
    },
}


# Answered for a tenant that does not exist (or lacks this connector) exactly as for a bad signature,
# after checking one against a throwaway secret, so neither the status nor the time taken says which
# tenant names are real.
UNKNOWN_TENANT_CONFIG = ConnectorConfig(secret=SecretStr(secrets.token_hex(32)))


async def _receive(
    connector: str,
    tenant_name: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    tenants: TenantRegistry,
) -> JSONResponse:
    vendor = VENDORS[connector]
    tenant = tenants.get(tenant_name)
    config = tenant.connector(connector) if tenant is not None else None
    raw_body = await request.body()
    try:
        outcome = verify_and_normalise(
            vendor, raw_body, dict(request.headers), config or UNKNOWN_TENANT_CONFIG, tenant=tenant_name
        )
    except SignatureError as exc:
        log.warning("webhook %s refused: %s", connector, "unknown tenant" if config is None else exc)
        metrics.record_webhook(connector, "bad_signature")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="signature refused") from exc
    except PayloadError as exc:
        metrics.record_webhook(connector, "invalid")
        raise HTTPException(422, detail=str(exc)) from exc
    try:
        accepted = await run_in_threadpool(
            submit_all, sessions, settings, connector, outcome, raw_body=raw_body
        )
    except DeliveryConflict as exc:
        # No id or content in the log line: either may carry what the sender sent.
        log.warning(
            "webhook %s/%s: delivery id reused with different content; refused", connector, tenant_name
        )
        metrics.record_webhook(connector, "conflict")
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="delivery id already used for different content"
        ) from exc
    metrics.record_webhook(connector, accepted.status)  # accepted, duplicate or ignored
    code = status.HTTP_200_OK if accepted.status == "ignored" else status.HTTP_202_ACCEPTED
    return JSONResponse(accepted.model_dump(mode="json"), status_code=code)


def _request_body(vendor: str) -> dict[str, Any]:
    """Return the OpenAPI request body of a vendor's webhook: its payload models, by reference."""
    refs = [{"$ref": f"#/components/schemas/{model.__name__}"} for model in VENDOR_BODIES[vendor]]
    # anyOf: the shapes overlap (vendors' extra fields are allowed), so a body may fit more than one.
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _add_vendor_routes(vendor: str) -> None:
    """Register `/{vendor}/{tenant}` and `/{vendor}?tenant=` with the vendor's body documented."""

    async def receive_for_tenant(
        tenant: Annotated[str, Path(max_length=64)],
        request: Request,
        settings: SettingsDep,
        sessions: SessionsDep,
        tenants: Annotated[TenantRegistry, Depends(tenants_dep)],
    ) -> JSONResponse:
        return await _receive(vendor, tenant, request, settings, sessions, tenants)

    async def receive(
        request: Request,
        settings: SettingsDep,
        sessions: SessionsDep,
        tenants: Annotated[TenantRegistry, Depends(tenants_dep)],
        tenant: Annotated[str, Query(description="Tenant name.", max_length=64)] = "default",
    ) -> JSONResponse:
        return await _receive(vendor, tenant, request, settings, sessions, tenants)

    for path, endpoint, summary in (
        (f"/{vendor}/{{tenant}}", receive_for_tenant, f"Receive a {vendor} webhook for one tenant"),
        (f"/{vendor}", receive, f"Receive a {vendor} webhook (tenant from `?tenant=`)"),
    ):
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            response_model=WebhookAccepted,
            responses=RESPONSES,
            summary=summary,
            description="Verify the vendor's signature on the raw body, normalise the event, store "
            "and queue it; 202.",
            operation_id=f"receive_{vendor}_webhook" + ("_for_tenant" if "{tenant}" in path else ""),
            openapi_extra={"requestBody": _request_body(vendor)},
        )


for _vendor in VENDORS:
    _add_vendor_routes(_vendor)


def webhook_body_schemas() -> dict[str, Any]:
    """Return the JSON schemas of every vendor's webhook body, for the OpenAPI components."""
    models = [model for bodies in VENDOR_BODIES.values() for model in bodies]
    _, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
        schema_generator=VendorJsonSchema,
    )
    found: dict[str, Any] = top["$defs"]
    return found

"""FastAPI dependencies: settings, database sessions and the calling tenant.

They are `async def` because none of them blocks: FastAPI runs a plain `def` dependency in its thread
pool, and four such hand-offs per request cost more than the intake's own Python work.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings, get_settings
from service.storage.db import session_factory
from service.tenants import Tenant, TenantRegistry, load_tenants


async def settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def sessions_dep(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


async def tenants_dep(request: Request) -> TenantRegistry:
    return request.app.state.tenants


async def require_tenant(
    tenants: Annotated[TenantRegistry, Depends(tenants_dep)],
    x_api_key: Annotated[str | None, Header(description="The tenant's API key.")] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Tenant:
    """Return the tenant whose API key the caller presented (`X-API-Key` or `Authorization: Bearer`)."""
    presented = x_api_key
    if presented is None and authorization and authorization.lower().startswith("bearer "):
        presented = authorization[7:].strip()
    tenant = tenants.by_api_key(presented) if presented else None
    if tenant is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    return tenant


def build_state(settings: Settings | None = None) -> tuple[Settings, sessionmaker[Session], TenantRegistry]:
    settings = settings or get_settings()
    return settings, session_factory(settings.sqlalchemy_url), load_tenants(settings)


SettingsDep = Annotated[Settings, Depends(settings_dep)]
SessionsDep = Annotated[sessionmaker[Session], Depends(sessions_dep)]
TenantDep = Annotated[Tenant, Depends(require_tenant)]

"""The FastAPI application. It never imports torch or worker code: it stores and enqueues by name."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service import __version__, metrics
from service.admin.router import router as admin_router
from service.assist.router import router as assist_router
from service.config import Settings
from service.deps import build_state
from service.feedback.router import router as feedback_router
from service.health.router import router as health_router
from service.lifecycle.router import router as lifecycle_router
from service.logs import configure_logging
from service.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from service.text import mend_surrogates_deep
from service.tickets.router import router as tickets_router
from service.tickets.schemas import document_limits
from service.webhooks.router import router as webhooks_router
from service.webhooks.router import webhook_body_schemas

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER_SECONDS = 5


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API with its routers, limits and error handlers."""
    settings, sessions, tenants = build_state(settings)
    configure_logging(settings.log_level, settings.log_format)
    app = FastAPI(
        title="Triage service",
        version=__version__,
        description="Calibrated frustration and urgency triage for helpdesk tickets, with routing and "
        "write-back. Authenticate `/v1` calls with the tenant's `X-API-Key`.",
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.tenants = tenants
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outside the body limit: its 413 and 422 get them too
    metrics.install(app)  # after the other middleware, so request metrics wrap them

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "database unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422, but the input it echoes may hold a lone surrogate (`"\ud800"` in the
        # JSON), which failed to encode as UTF-8: a 500.
        errors = mend_surrogates_deep(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": errors}, status_code=422)

    app.include_router(health_router)
    app.include_router(tickets_router)
    app.include_router(admin_router)
    app.include_router(lifecycle_router)
    app.include_router(webhooks_router)
    app.include_router(assist_router)
    app.include_router(feedback_router)

    def openapi() -> dict[str, Any]:
        """Return the schema with each vendor's webhook body and the configured message limits."""
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(webhook_body_schemas())
            document_limits(
                components,
                max_messages=settings.max_messages,
                max_message_chars=settings.max_message_chars,
            )
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""`/v1/admin`: dead-lettered actions, listed and replayed by the tenant that owns them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import select, update

from service import queue
from service.deps import SessionsDep, SettingsDep, TenantDep
from service.domain import ActionStatus
from service.storage.db import rowcount
from service.storage.models import ActionRow
from service.text import NO_NUL
from service.tickets.schemas import ActionOut, Problem
from service.tickets.service import action_out

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={401: {"model": Problem, "description": "Missing or invalid API key."}},
)


@router.get("/dead-letters", response_model=list[ActionOut], summary="Actions that ran out of retries")
def list_dead_letters(
    tenant: TenantDep, sessions: SessionsDep, limit: int = Query(100, ge=1, le=1000)
) -> list[ActionOut]:
    with sessions() as session:
        rows = session.scalars(
            select(ActionRow)
            .where(ActionRow.tenant == tenant.name, ActionRow.status == ActionStatus.DEAD)
            .order_by(ActionRow.updated_at.desc())
            .limit(limit)
        ).all()
        return [action_out(row) for row in rows]


@router.post(
    "/dead-letters/{action_id}/replay",
    response_model=ActionOut,
    status_code=202,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
    summary="Put a dead-lettered action back on the outbox with a fresh retry schedule",
)
def replay_dead_letter(
    action_id: Annotated[str, Path(pattern=NO_NUL)],
    tenant: TenantDep,
    settings: SettingsDep,
    sessions: SessionsDep,
) -> ActionOut:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        row = session.get(ActionRow, action_id)
        if row is None or row.tenant != tenant.name:
            raise HTTPException(404, detail="action not found")
        if not row.payload:
            # Retention removed what it would have sent (service/lifecycle/retention.py).
            raise HTTPException(409, detail="the action's content was removed by retention")
        # Only a dead action may be replayed; the same idempotency key goes out again, so a receiver
        # that did get an earlier try still sees one delivery.
        changed = rowcount(
            session.execute(
                update(ActionRow)
                .where(ActionRow.id == action_id, ActionRow.status == ActionStatus.DEAD)
                .values(
                    status=ActionStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    updated_at=now,
                    last_error=None,
                )
            )
        )
        if not changed:
            raise HTTPException(409, detail=f"action is {row.status}, not dead")
        session.refresh(row)
        out = action_out(row)
    queue.send(settings, queue.TASK_DELIVER, [action_id])
    return out

"""The persisted outbox: plan actions with the triage, deliver each at least once under one key."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain import ActionStatus, Decision, Triage
from service.storage.db import rowcount
from service.storage.models import ActionRow, TicketRow
from workers import metrics
from workers.connectors.base import Connector, DeliveryResult, OutboundAction
from workers.routing.drafts import compose_draft

log = logging.getLogger(__name__)

# A claimed action not finished within this long (worker died mid-call) may be claimed again.
LEASE_SECONDS = 120


def plan_actions(
    ticket: TicketRow,
    triage: Triage,
    decision: Decision,
    connectors: dict[str, Connector],
    draft: str | None = None,
) -> list[ActionRow]:
    """Turn a decision into outbox rows, one per connector and action, keyed for idempotency."""
    now = datetime.now(UTC)
    rows = []
    summary = triage.model_dump(mode="json", exclude={"ticket_id"})
    for name, connector in connectors.items():
        if not connector.accepts(ticket.source):
            continue
        for planned in decision.actions:
            if planned.shadow:
                continue  # shadow mode: decided and recorded with the decision, never written
            # A connector may take only some actions (the pager: escalations asking for a page).
            handles = getattr(connector, "handles", None)
            if handles is not None and not handles(planned, ticket):
                continue
            payload = {
                "action": planned.kind.value,
                "rule": planned.rule,
                "reason": planned.reason,
                "params": planned.params,
                "triage": summary,
            }
            if planned.kind.value == "ticket.reply_drafted":
                # The worker's top-ranked draft (workers/drafts); the fixed composer if there is none.
                payload["draft"] = draft or compose_draft(triage)
            rows.append(
                ActionRow(
                    idempotency_key=f"{ticket.id}.{triage.revision}.{name}.{planned.kind.value}",
                    ticket_id=ticket.id,
                    tenant=ticket.tenant,
                    revision=triage.revision,
                    connector=name,
                    kind=planned.kind.value,
                    payload=payload,
                    status=ActionStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    return rows


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None


def deliver_action(
    *,
    sessions: sessionmaker[Session],
    action_id: str,
    connectors_for: Callable[[str], dict[str, Connector]],
    settings: Settings,
    now: datetime | None = None,
) -> DeliveryOutcome | None:
    """Claim an action, deliver it once, record the outcome; None when it is not ours to send now.

    The claim is a compare-and-set UPDATE (one statement, so it holds on SQLite and PostgreSQL
    alike): of two workers holding the same message, or a redelivery and the sweep, only one moves
    the row to `delivering`, and a delivered row is never claimed again. The lease it sets is the
    claim's fencing token: the outcome is recorded only while the row still carries it, so a worker
    whose lease ran out cannot overwrite a newer claim's state.
    """
    now = now or datetime.now(UTC)
    lease = now + timedelta(seconds=LEASE_SECONDS)
    with sessions.begin() as session:
        claimed = rowcount(
            session.execute(
                update(ActionRow)
                .where(
                    ActionRow.id == action_id,
                    or_(
                        and_(
                            ActionRow.status == ActionStatus.PENDING,
                            or_(ActionRow.next_attempt_at.is_(None), ActionRow.next_attempt_at <= now),
                        ),
                        and_(ActionRow.status == ActionStatus.DELIVERING, ActionRow.lease_until < now),
                    ),
                )
                .values(status=ActionStatus.DELIVERING, lease_until=lease, updated_at=now)
            )
        )
        if not claimed:
            return None
        row = session.get(ActionRow, action_id)
        assert row is not None
        ticket = session.get(TicketRow, row.ticket_id)
        assert ticket is not None
        action = OutboundAction(
            id=row.id,
            idempotency_key=row.idempotency_key,
            tenant=row.tenant,
            kind=row.kind,
            ticket_id=row.ticket_id,
            source=ticket.source,
            external_id=ticket.external_id,
            attempt=row.attempts + 1,
            payload=dict(row.payload),
        )
    connector = connectors_for(action.tenant).get(row.connector)
    if connector is None:
        # Configuration changed since the action was planned: retrying cannot help.
        missing = f"connector {row.connector!r} is not configured"
        result = DeliveryResult(ok=False, error=missing, permanent=True)
    else:
        with metrics.WRITEBACK_DURATION.labels(connector=row.connector).time():
            result = connector.deliver(action)

    attempts = action.attempt
    schedule = settings.retry_schedule_seconds
    retry_in: float | None = None
    if result.ok:
        status = ActionStatus.DELIVERED
    elif result.permanent or attempts > len(schedule):
        status = ActionStatus.DEAD
    else:
        status = ActionStatus.PENDING
        retry_in = max(schedule[attempts - 1], result.retry_after or 0.0)
    finished = datetime.now(UTC)
    with sessions.begin() as session:
        recorded = rowcount(
            session.execute(
                update(ActionRow)
                .where(
                    ActionRow.id == action_id,
                    ActionRow.status == ActionStatus.DELIVERING,
                    ActionRow.lease_until == lease,
                )
                .values(
                    status=status,
                    attempts=attempts,
                    lease_until=None,
                    next_attempt_at=finished + timedelta(seconds=retry_in) if retry_in is not None else None,
                    delivered_at=finished if status == ActionStatus.DELIVERED else None,
                    last_status_code=result.status_code,
                    last_error=result.error,
                    updated_at=finished,
                )
            )
        )
    if not recorded:
        # Our lease ran out mid-call and another worker claimed the action: its outcome decides.
        log.warning("action %s was claimed again while this try ran; its outcome is not recorded", action_id)
        return None
    log.info("action %s %s after %d attempt(s)", action_id, status, attempts)
    metrics.observe_writeback(
        connector=row.connector,
        action=row.kind,
        status=status,
        attempt=attempts,
        rate_limited=result.rate_limited,
    )
    return DeliveryOutcome(status=status, retry_in=retry_in)


def due_actions(session: Session, *, now: datetime, limit: int = 500) -> list[str]:
    """Return ids of actions due for a try, including ones whose worker died mid-delivery."""
    return list(
        session.scalars(
            select(ActionRow.id)
            .where(
                or_(
                    and_(ActionRow.status == ActionStatus.PENDING, ActionRow.next_attempt_at <= now),
                    and_(ActionRow.status == ActionStatus.DELIVERING, ActionRow.lease_until < now),
                )
            )
            .order_by(ActionRow.next_attempt_at)
            .limit(limit)
        )
    )

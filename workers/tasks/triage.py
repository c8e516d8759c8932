"""`triage.classify`: score and route tickets by id."""

from __future__ import annotations

from typing import Any

from service import queue
from service.config import get_settings
from workers import metrics, resources
from workers.celery_app import app
from workers.pipeline import triage_tickets


@app.task(name=queue.TASK_CLASSIFY)
def classify(ticket_ids: list[str]) -> list[dict[str, Any]]:
    """Triage the tickets, then hand their new actions to the outbound queue."""
    settings = get_settings()
    outcomes = triage_tickets(
        sessions=resources.sessions(),
        ticket_ids=ticket_ids,
        classifier=resources.classifier(),
        policy=resources.policy(),
        connectors_for=resources.connectors_for,
        max_deliveries=settings.max_task_deliveries,
        calibration_for=resources.calibration_for,
    )
    metrics.count_ticket_outcomes(outcomes)
    for outcome in outcomes:
        for action_id in outcome.action_ids:
            # A lost publish is found again by the sweep: the action is already in the outbox.
            queue.send(settings, queue.TASK_DELIVER, [action_id])
    return [{"ticket_id": o.ticket_id, "status": o.status} for o in outcomes]

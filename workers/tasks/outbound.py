"""`triage.deliver`: carry out one outbox action through its connector."""

from __future__ import annotations

from service import queue
from service.config import get_settings
from workers import resources
from workers.celery_app import app
from workers.outbox import deliver_action
from workers.termination import deferred_termination

# Retries sooner than this ride on a Celery countdown; later ones wait in the outbox for the sweep,
# because long countdowns have been lost or duplicated around reconnects (kombu#337, celery#5935).
COUNTDOWN_LIMIT_SECONDS = 60.0


@app.task(name=queue.TASK_DELIVER)
def deliver(action_id: str) -> str | None:
    settings = get_settings()
    # The outcome is in the database before a cancel ends this process and before the message is
    # acknowledged, so a redelivered message finds the action delivered instead of sending it again.
    with deferred_termination():
        outcome = deliver_action(
            sessions=resources.sessions(),
            action_id=action_id,
            connectors_for=resources.connectors_for,
            settings=settings,
        )
    if outcome is None:
        return None
    if outcome.retry_in is not None and outcome.retry_in <= COUNTDOWN_LIMIT_SECONDS:
        queue.send(settings, queue.TASK_DELIVER, [action_id], countdown=outcome.retry_in)
    return outcome.status

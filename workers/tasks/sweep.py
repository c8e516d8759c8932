"""`triage.sweep`: re-enqueue what the broker may have lost."""

from __future__ import annotations

from service import queue
from service.config import get_settings
from workers import resources
from workers.celery_app import app
from workers.sweep import reconcile


@app.task(name=queue.TASK_SWEEP)
def sweep() -> dict[str, int]:
    settings = get_settings()
    return reconcile(
        sessions=resources.sessions(),
        deadline_seconds=settings.triage_deadline_seconds,
        send=lambda task, args: queue.send(settings, task, args),
    )

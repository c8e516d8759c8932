"""`triage.retention`: delete customer text past each tenant's window, and expired delivery ids."""

from __future__ import annotations

from typing import Any

from service import queue
from service.config import get_settings
from service.lifecycle.retention import run_retention
from service.tenants import get_tenants
from workers import metrics, resources
from workers.celery_app import app


@app.task(name=queue.TASK_RETENTION)
def retention() -> dict[str, Any]:
    """Run one bounded retention pass (service/lifecycle/retention.py) and record it in the metrics."""
    try:
        report = run_retention(sessions=resources.sessions(), tenants=get_tenants(), settings=get_settings())
    except Exception:
        metrics.observe_retention(None)
        raise
    metrics.observe_retention(report)
    return report.summary()

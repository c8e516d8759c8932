"""`triage.deliver` records the outcome before a cancel (SIGTERM) ends the worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from service.storage.models import ActionRow
from tests.conftest import API_KEY
from tests.workers.helpers import ScriptedConnector, add_ticket
from tests.workers.test_pipeline import run

ROOT = Path(__file__).resolve().parents[3]

# Celery cancels a running task with SIGTERM when the broker connection drops; here it lands while
# the receiver is answering 2xx, the worst moment: sent, not yet recorded.
CANCELLED_MID_DELIVERY = """
import os, signal, sys
from service.storage.db import session_factory
from workers import resources
from workers.connectors.base import Connector, DeliveryResult
from workers.tasks import outbound

class CancelledWhileAnswered(Connector):
    name = "webhook"

    def deliver(self, action):
        os.kill(os.getpid(), signal.SIGTERM)
        return DeliveryResult(ok=True, status_code=200)

signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a Celery pool process
resources.sessions = lambda: session_factory(os.environ["TRIAGE_DATABASE_URL"])
resources.connectors_for = lambda tenant: {"webhook": CancelledWhileAnswered()}
outbound.deliver.run(sys.argv[1])
print("task returned")
"""


def test_cancel_during_delivery_still_records_it_delivered(sessions, settings) -> None:
    ticket_id = add_ticket(sessions, "[frustration=0.1] hello")
    [outcome] = run(sessions, [ticket_id], connector=ScriptedConnector())
    [action_id] = outcome.action_ids
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRIAGE_ENVIRONMENT": "test",
        "TRIAGE_DATABASE_URL": settings.database_url,
        "TRIAGE_API_KEY": API_KEY,
        "TRIAGE_REDIS_URL": "redis://127.0.0.1:1/0",
    }

    done = subprocess.run(
        [sys.executable, "-c", CANCELLED_MID_DELIVERY, action_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )

    assert done.returncode == -signal.SIGTERM, done.stderr.decode()[-2000:]
    with sessions() as session:
        row = session.get(ActionRow, action_id)
        assert row is not None
        # Delivered, so neither the redelivered message nor the sweep sends it again.
        assert row.status == "delivered" and row.attempts == 1 and row.lease_until is None

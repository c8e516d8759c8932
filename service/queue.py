"""The one place the API talks to Celery: enqueue by stable task name, never by importing worker code."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from service.config import Settings

log = logging.getLogger(__name__)

TASK_CLASSIFY = "triage.classify"
TASK_DELIVER = "triage.deliver"
TASK_SWEEP = "triage.sweep"
TASK_RETENTION = "triage.retention"
QUEUE_INFERENCE = "inference"
QUEUE_ACTIONS = "actions"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Return the Celery settings shared by the producer (API) and the workers."""
    timeout = settings.enqueue_timeout_seconds
    return {
        "broker_url": settings.redis_url,
        "broker_connection_timeout": timeout,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Above the longest task, or a slow task is redelivered while it still runs.
            "visibility_timeout": settings.visibility_timeout_seconds,
            "socket_connect_timeout": timeout,
            "socket_timeout": max(timeout, 5.0),
        },
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        # Each queue on its own direct exchange and routing key. A bare Queue(name) binds to the default
        # exchange with the default routing key, which would copy every inference message onto the
        # actions queue too, where an I/O worker without the model would pick it up.
        "task_queues": [
            Queue(QUEUE_INFERENCE, Exchange(QUEUE_INFERENCE, type="direct"), routing_key=QUEUE_INFERENCE),
            Queue(QUEUE_ACTIONS, Exchange(QUEUE_ACTIONS, type="direct"), routing_key=QUEUE_ACTIONS),
        ],
        "task_default_queue": QUEUE_INFERENCE,
        "task_default_exchange": QUEUE_INFERENCE,
        "task_default_routing_key": QUEUE_INFERENCE,
        "task_routes": {
            TASK_CLASSIFY: {"queue": QUEUE_INFERENCE},
            TASK_DELIVER: {"queue": QUEUE_ACTIONS},
            TASK_SWEEP: {"queue": QUEUE_ACTIONS},
            TASK_RETENTION: {"queue": QUEUE_ACTIONS},
        },
    }


@lru_cache(maxsize=4)
def _producer(redis_url: str, timeout: float, visibility: int) -> Celery:
    settings = Settings(
        redis_url=redis_url, enqueue_timeout_seconds=timeout, visibility_timeout_seconds=visibility
    )
    app = Celery("triage-producer")
    app.conf.update(celery_config(settings))
    return app


def producer(settings: Settings) -> Celery:
    return _producer(
        settings.redis_url, settings.enqueue_timeout_seconds, settings.visibility_timeout_seconds
    )


def send(settings: Settings, task: str, args: Sequence[Any], *, countdown: float | None = None) -> bool:
    """Publish `task` once, without retrying; return False when the broker is unreachable.

    Callers have already persisted what the task needs, so a failed publish loses nothing: the
    reconciliation sweep finds the work and enqueues it again.
    """
    queue = QUEUE_ACTIONS if task in (TASK_DELIVER, TASK_SWEEP, TASK_RETENTION) else QUEUE_INFERENCE
    try:
        producer(settings).send_task(
            task,
            args=list(args),
            queue=queue,
            countdown=countdown,
            retry=False,
            argsrepr=repr(list(args)),
        )
    except Exception as exc:  # kombu raises several connection error types; all mean "not queued"
        log.warning("enqueue of %s failed: %s", task, type(exc).__name__)
        return False
    return True

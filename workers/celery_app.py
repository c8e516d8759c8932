"""The Celery application: Redis broker, late acks, bounded prefetch, separate queues, the periodic jobs."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_process_init

from service.config import get_settings
from service.logs import configure_logging
from service.queue import QUEUE_INFERENCE, TASK_RETENTION, TASK_SWEEP, celery_config
from workers import metrics

settings = get_settings()
# Loading took 13-46 s on a busy 2-core machine; a cold node's disk may be slower still.
PROCESS_UP_TIMEOUT_SECONDS = 300.0

app = Celery("triage")
app.conf.update(celery_config(settings))
app.conf.update(
    # At-least-once: acknowledge after the task ran, and give a message back when its worker dies.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message reserved per process: a killed worker strands at most one, and slow inference
    # does not hold messages another process could run.
    worker_prefetch_multiplier=1,
    # Without this a lost broker connection makes late-acked tasks run twice (reliability.md).
    worker_cancel_long_running_tasks_on_connection_loss=True,
    broker_connection_retry_on_startup=True,
    task_create_missing_queues=False,
    worker_hijack_root_logger=False,
    worker_send_task_events=False,
    # A pool process loads the model before it reports up (`_after_fork`); Celery kills one that is
    # not up within this many seconds (default 4), which would kill every process mid-load.
    worker_proc_alive_timeout=PROCESS_UP_TIMEOUT_SECONDS,
    beat_schedule={
        "reconcile": {"task": TASK_SWEEP, "schedule": settings.sweep_interval_seconds, "args": ()},
        # Customer text past each tenant's window, and expired delivery ids (service/lifecycle).
        "retention": {"task": TASK_RETENTION, "schedule": settings.retention_interval_seconds, "args": ()},
    },
    imports=(
        "workers.tasks.triage",
        "workers.tasks.outbound",
        "workers.tasks.sweep",
        "workers.tasks.retention",
    ),
)

metrics.connect_worker_signals()


@setup_logging.connect
def _logging(**_: object) -> None:
    """Log as JSON like the API; connecting here stops Celery from installing its own handlers."""
    configure_logging(settings.log_level, settings.log_format)


@worker_process_init.connect
def _after_fork(**_: object) -> None:
    """Give each forked child its own database connections, and load the model before it takes work."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from service.storage.db import get_engine

    # Connections inherited from the parent must not be shared across processes.
    for url in {settings.sqlalchemy_url}:
        get_engine(url).dispose(close=False)
    if serves_inference():
        from workers import resources

        resources.warm_up()


@worker_init.connect
def _before_consuming(sender: object = None, **_: object) -> None:
    """Load the model in the worker itself when no pool process will (threads pool, GPU batching)."""
    if not uses_prefork(sender) and serves_inference():
        from workers import resources

        resources.warm_up()


def uses_prefork(worker: object) -> bool:
    """Return whether the worker runs tasks in forked pool processes (Celery's default pool)."""
    pool = getattr(worker, "pool_cls", None)
    return pool is None or "prefork" in getattr(pool, "__module__", str(pool))


def serves_inference() -> bool:
    """Return whether this worker consumes the inference queue (an actions-only worker needs no model)."""
    return QUEUE_INFERENCE in app.amqp.queues.consume_from

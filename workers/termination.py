"""Let a worker process finish recording an effect before a SIGTERM ends it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred_termination() -> Iterator[None]:
    """Hold SIGTERM until the block ends, then act on it as the process would have.

    Celery ends a running task's process with SIGTERM when the broker connection drops
    (`worker_cancel_long_running_tasks_on_connection_loss`). Landing between a receiver's 2xx and
    the outbox row saying so, that kill left the action claimed but unrecorded, and it was sent again
    once its lease ran out. SIGKILL cannot be held off: the stable `webhook-id` and the helpdesk
    markers let receivers drop that rare second copy. Only the main thread may set handlers, so
    elsewhere the block runs unguarded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, hold)
    try:
        yield
    finally:
        # A handler installed outside Python reads as None; the default is the closest restore.
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if received:
            if callable(previous):
                previous(signal.SIGTERM, None)
            elif previous in (signal.SIG_DFL, None):
                os.kill(os.getpid(), signal.SIGTERM)

"""Batching across tickets: concurrent callers' texts gathered into one forward pass (for the GPU).

A GPU worker runs many tasks at once (Celery's threads pool); each task calls `predict` with its own
ticket's few texts and blocks. One gathering thread takes the first waiting request, then keeps
taking more until `max_batch_size` texts are together or `max_wait_seconds` has passed since the first
arrived, scores them all in one `predict` call and hands each caller its own slice. A lone ticket
waits at most `max_wait_seconds`; under load the batches fill up and the wait is shorter.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from service.domain import Scores
from workers.inference.base import Classifier


@dataclass
class _Request:
    texts: list[str]
    result: Future[list[Scores]] = field(default_factory=Future)


class BatchingClassifier:
    """A Classifier that merges concurrent `predict` calls into batches for the wrapped classifier."""

    def __init__(self, inner: Classifier, *, max_batch_size: int = 128, max_wait_seconds: float = 0.005):
        if max_batch_size < 1 or max_wait_seconds < 0:
            raise ValueError("max_batch_size must be >= 1 and max_wait_seconds >= 0")
        self.inner = inner
        self.model_version = inner.model_version
        self.max_batch_size = max_batch_size
        self.max_wait_seconds = max_wait_seconds
        # Texts per forward pass so far, for tests and the GPU benchmark.
        self.batch_sizes: list[int] = []
        self._waiting: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._carried: _Request | None = None
        self._thread = threading.Thread(target=self._gather_forever, name="inference-batcher", daemon=True)
        self._thread.start()

    def __getattr__(self, name: str) -> object:
        # device_in_use, calibration, load(), last_batch_tokens: the wrapped classifier's.
        return getattr(self.inner, name)

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        """Return one `Scores` per text, scored together with whatever else is waiting."""
        if not texts:
            return []
        request = _Request(list(texts))
        self._waiting.put(request)
        return request.result.result()

    def _next_batch(self) -> list[_Request]:
        """Block for the first request, then gather until the batch is full or the wait is over."""
        first = self._carried or self._waiting.get()
        self._carried = None
        batch, size = [first], len(first.texts)
        deadline = time.monotonic() + self.max_wait_seconds
        while size < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                request = (
                    self._waiting.get(timeout=remaining) if remaining > 0 else self._waiting.get_nowait()
                )
            except queue.Empty:
                break
            if size + len(request.texts) > self.max_batch_size:
                # A ticket's texts stay in one pass; it opens the next batch instead.
                self._carried = request
                break
            batch.append(request)
            size += len(request.texts)
        return batch

    def _gather_forever(self) -> None:
        while True:
            batch = self._next_batch()
            texts = [text for request in batch for text in request.texts]
            try:
                scores = self.inner.predict(texts)
            except BaseException as exc:  # every caller of the batch sees the failure, none hangs
                for request in batch:
                    request.result.set_exception(exc)
                continue
            self.batch_sizes.append(len(texts))
            cursor = 0
            for request in batch:
                request.result.set_result(scores[cursor : cursor + len(request.texts)])
                cursor += len(request.texts)

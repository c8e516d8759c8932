"""Gathering concurrent tickets into one forward pass, with a bounded batch and a bounded wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from service.domain import Scores
from tests.fakes.classifier import MarkerClassifier
from workers.inference.batching import BatchingClassifier


class Recording(MarkerClassifier):
    """Counts forward passes; optionally slow, like a GPU pass under load."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds = seconds

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        time.sleep(self.seconds)
        return super().predict(texts)


def _concurrently(batcher: BatchingClassifier, requests: list[list[str]]) -> list[list[Scores]]:
    results: list[list[Scores]] = [[] for _ in requests]
    start = threading.Barrier(len(requests))

    def call(index: int) -> None:
        start.wait()
        results[index] = batcher.predict(requests[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_concurrent_tickets_share_one_forward_pass_and_each_gets_its_own_scores():
    inner = Recording()
    batcher = BatchingClassifier(inner, max_batch_size=64, max_wait_seconds=0.5)
    requests = [[f"[frustration=0.{i}] ticket {i}", f"[urgency=high] reply {i}"] for i in range(1, 9)]

    results = _concurrently(batcher, requests)

    assert len(inner.calls) == 1 and batcher.batch_sizes == [16]
    for i, scores in enumerate(results, start=1):
        assert [s.frustration.probability for s in scores] == [i / 10, 0.1]
        assert scores[1].urgency.level == "high"


def test_batches_are_bounded_and_a_tickets_texts_stay_together():
    inner = Recording()
    batcher = BatchingClassifier(inner, max_batch_size=5, max_wait_seconds=0.3)

    _concurrently(batcher, [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]])

    assert sorted(batcher.batch_sizes) == [4, 4]
    assert all(size <= 5 for size in batcher.batch_sizes)
    assert sorted(len(call) for call in inner.calls) == [4, 4]


def test_a_lone_ticket_waits_no_longer_than_the_bound():
    batcher = BatchingClassifier(Recording(), max_batch_size=128, max_wait_seconds=0.05)

    started = time.perf_counter()
    [scores] = batcher.predict(["where is my parcel"])
    waited = time.perf_counter() - started

    assert scores.model_version == MarkerClassifier.model_version
    assert waited < 1.0  # 50 ms of gathering, then one pass; generous for a loaded machine


def test_under_load_batches_fill_up_while_the_model_is_busy():
    inner = Recording(seconds=0.05)
    batcher = BatchingClassifier(inner, max_batch_size=32, max_wait_seconds=0.001)

    _concurrently(batcher, [[f"ticket {i}"] for i in range(40)])

    # The first pass leaves with what had arrived; the rest queue up behind the busy model.
    assert sum(batcher.batch_sizes) == 40 and len(batcher.batch_sizes) < 10


def test_a_failing_pass_fails_every_caller_of_that_batch_and_the_next_one_runs():
    class Broken(Recording):
        def predict(self, texts: Sequence[str]) -> list[Scores]:
            if any("boom" in t for t in texts):
                raise RuntimeError("CUDA out of memory")
            return super().predict(texts)

    batcher = BatchingClassifier(Broken(), max_batch_size=8, max_wait_seconds=0.0)
    with pytest.raises(RuntimeError, match="out of memory"):
        batcher.predict(["boom"])

    assert len(batcher.predict(["fine now"])) == 1

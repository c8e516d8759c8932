"""The GPU gathering measurement runs end to end on the CPU with a fake classifier."""

from __future__ import annotations

from tests.fakes.classifier import MarkerClassifier
from workers.bench.gathering import measure_gathering


def test_the_gathering_measurement_reports_throughput_latency_and_batches():
    result = measure_gathering(
        MarkerClassifier(), [f"ticket {i}" for i in range(50)], callers=16, seconds=0.5, log=lambda m: None
    )

    assert result.tickets > 0 and result.saturated_per_second > 0
    assert 0 < result.half_load_p50_seconds <= result.half_load_p99_seconds
    assert result.mean_batch >= 1
    assert "tickets/s per worker" in result.table()

"""Metrics: the figures `triage model eval` prints mean what they say."""

from __future__ import annotations

import numpy as np

from workers.training.metrics import best_threshold, expected_calibration_error, urgency_metrics


def test_perfectly_calibrated_probabilities_have_near_zero_ece() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.random(50_000)
    labels = (rng.random(50_000) < probabilities).astype(int)
    assert expected_calibration_error(probabilities, labels) < 0.01


def test_overconfident_probabilities_have_large_ece() -> None:
    labels = np.array([1, 0] * 500)
    assert expected_calibration_error(np.full(1000, 0.99), labels) > 0.45


def test_threshold_search_finds_the_separating_point() -> None:
    probabilities = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert 0.3 < best_threshold(probabilities, labels) <= 0.6


def test_urgency_recall_is_reported_per_level() -> None:
    distributions = np.eye(4)[[0, 1, 2, 3, 3]]
    figures = urgency_metrics(distributions, np.array([0, 1, 2, 3, 2]))
    assert figures["recall_critical"] == 1.0
    assert figures["recall_high"] == 0.5
    assert figures["accuracy"] == 0.8

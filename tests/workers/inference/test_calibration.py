"""Calibration: temperatures recover miscalibrated logits; levels follow the fitted thresholds."""

from __future__ import annotations

import numpy as np

from workers.inference.calibration import Calibration
from workers.training.calibrate import fit_binary_temperature, fit_multiclass_temperature
from workers.training.metrics import expected_calibration_error


def test_binary_temperature_undoes_overconfidence() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-true_logits))).astype(int)
    temperature = fit_binary_temperature(true_logits * 3.0, labels)
    assert 2.7 < temperature < 3.3
    calibrated = 1 / (1 + np.exp(-(true_logits * 3.0) / temperature))
    overconfident = 1 / (1 + np.exp(-(true_logits * 3.0)))
    assert (
        expected_calibration_error(calibrated, labels) < expected_calibration_error(overconfident, labels) / 3
    )


def test_multiclass_temperature_undoes_overconfidence() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1.5, (8_000, 4))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in probabilities])
    assert 1.8 < fit_multiclass_temperature(logits * 2.0, labels) < 2.2


def test_levels_follow_thresholds_and_severe_needs_the_severe_head() -> None:
    calibration = Calibration(frustration_threshold=0.4, moderate_threshold=0.75, severe_threshold=0.5)
    assert calibration.frustration_level(0.2, 0.0) == "none"
    assert calibration.frustration_level(0.5, 0.1) == "mild"
    assert calibration.frustration_level(0.9, 0.1) == "moderate"
    assert calibration.frustration_level(0.9, 0.7) == "severe"


def test_severe_probability_never_exceeds_frustrated() -> None:
    frustrated, severe = Calibration().frustration(np.array([[-2.0, 3.0]]))
    assert severe[0] <= frustrated[0]


def test_round_trip_through_json(tmp_path) -> None:
    calibration = Calibration(frustration_temperature=1.7, frustration_threshold=0.33)
    calibration.save(tmp_path / "c.json")
    assert Calibration.load(tmp_path / "c.json") == calibration


def test_vector_scaling_corrects_shifted_class_priors() -> None:
    from workers.inference.calibration import softmax
    from workers.training.calibrate import fit_vector_scaling

    rng = np.random.default_rng(2)
    logits = rng.normal(0, 1.5, (6_000, 4))
    shift = np.array([0.0, 0.5, -0.5, 1.0])
    labels = np.array([rng.choice(4, p=p) for p in softmax(logits + shift)])
    temperature, bias = fit_vector_scaling(logits, labels)
    assert 0.9 < temperature < 1.1
    recovered = np.array(bias) - bias[0]
    assert np.allclose(recovered, shift, atol=0.15)


def test_each_precision_reads_its_own_fit(tmp_path) -> None:
    from workers.inference.calibration import save_calibrations

    path = tmp_path / "calibration.json"
    save_calibrations(
        path,
        {"fp32": Calibration(frustration_temperature=1.1), "int8": Calibration(frustration_temperature=1.3)},
    )
    assert Calibration.load(path, "int8").frustration_temperature == 1.3
    assert Calibration.load(path, "fp16").frustration_temperature == 1.1  # GPU half precision tracks fp32

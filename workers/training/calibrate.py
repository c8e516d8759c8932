"""Fit temperatures and thresholds on the calibration half of the dev splits."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from workers.inference.calibration import Calibration, sigmoid, softmax
from workers.training.metrics import best_threshold

# Temperatures outside this range mean something is broken, not that the model is that far off.
LOG_TEMPERATURE_BOUNDS = (-3.0, 3.0)


def fit_binary_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return T minimising the negative log-likelihood of sigmoid(logit / T)."""

    def nll(log_t: float) -> float:
        p = np.clip(sigmoid(logits / np.exp(log_t)), 1e-7, 1 - 1e-7)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    return float(np.exp(minimize_scalar(nll, bounds=LOG_TEMPERATURE_BOUNDS, method="bounded").x))


def fit_vector_scaling(logits: np.ndarray, labels: np.ndarray) -> tuple[float, list[float]]:
    """Return (T, per-class bias) minimising the NLL of softmax(logits / T + bias)."""
    classes = logits.shape[1]

    def nll(params: np.ndarray) -> float:
        p = softmax(logits / np.exp(params[0]) + params[1:])
        # A small L2 pull keeps the biases identifiable (softmax ignores a common shift).
        return float(
            -np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0)))
            + 1e-4 * np.sum(params[1:] ** 2)
        )

    start = np.zeros(classes + 1)
    start[0] = np.log(fit_multiclass_temperature(logits, labels))
    bounds = [LOG_TEMPERATURE_BOUNDS] + [(-10.0, 10.0)] * classes
    found = minimize(nll, start, method="L-BFGS-B", bounds=bounds).x
    return float(np.exp(found[0])), [float(b) for b in found[1:]]


def fit_multiclass_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return T minimising the negative log-likelihood of softmax(logits / T)."""

    def nll(log_t: float) -> float:
        p = softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))))

    return float(np.exp(minimize_scalar(nll, bounds=LOG_TEMPERATURE_BOUNDS, method="bounded").x))


def fit_calibration(
    frustration_logits: np.ndarray,
    frustrated: np.ndarray,
    severe: np.ndarray,
    urgency_logits: np.ndarray | None,
    urgency: np.ndarray | None,
    base: Calibration | None = None,
    *,
    any_frustration: np.ndarray | None = None,
    topic_logits: np.ndarray | None = None,
    topic: np.ndarray | None = None,
) -> Calibration:
    """Fit every temperature and threshold; tasks without labels keep `base`'s values.

    Label arrays may hold NO_LABEL (-1) where a source says nothing (GoEmotions annoyance says
    "frustrated at all" but not "moderate or worse"); those rows are left out of that fit.
    """
    calibration = Calibration(**vars(base)) if base else Calibration()
    known = frustrated >= 0
    if known.any():
        calibration.frustration_temperature = fit_binary_temperature(
            frustration_logits[known, 0], frustrated[known]
        )
        calibration.severe_temperature = fit_binary_temperature(frustration_logits[:, 1], severe)
        p_frustrated, p_severe = calibration.frustration(frustration_logits)
        calibration.frustration_threshold = best_threshold(p_frustrated[known], frustrated[known])
        calibration.severe_threshold = max(
            best_threshold(p_severe, severe), calibration.frustration_threshold
        )
    if any_frustration is not None and frustration_logits.shape[1] > 2 and len(any_frustration):
        calibration.any_temperature = fit_binary_temperature(frustration_logits[:, 2], any_frustration)
        _, _, p_any = calibration.frustration_ordinal(frustration_logits)
        assert p_any is not None
        calibration.mild_threshold = min(
            best_threshold(p_any, any_frustration), calibration.frustration_threshold
        )
    if topic_logits is not None and topic is not None and topic_logits.shape[1] and len(topic):
        calibration.topic_temperature = fit_multiclass_temperature(topic_logits, topic)
    if urgency_logits is not None and urgency is not None and len(urgency):
        calibration.urgency_temperature, calibration.urgency_bias = fit_vector_scaling(
            urgency_logits, urgency
        )
    return calibration

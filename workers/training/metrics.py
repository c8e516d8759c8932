"""Headline metrics: ROC-AUC, macro-F1, expected calibration error, accuracy, per-level recall."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

from service.domain import URGENCY_LEVELS

ECE_BINS = 15


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Return binary ECE: |mean predicted - observed rate| over equal-width bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(probabilities[members].mean() - labels[members].mean())
    return float(error)


def top_label_ece(distributions: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Return multi-class ECE on the top label's confidence."""
    confidence = distributions.max(axis=1)
    correct = (distributions.argmax(axis=1) == labels).astype(float)
    return expected_calibration_error(confidence, correct, bins)


def best_threshold(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Return the probability threshold that maximises macro-F1 (searched on calibration data only)."""
    candidates = np.unique(np.round(probabilities, 3))
    if len(candidates) > 400:
        candidates = np.quantile(probabilities, np.linspace(0.01, 0.99, 400))
    scores = [f1_score(labels, probabilities >= t, average="macro", zero_division=0) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def frustration_metrics(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Return ROC-AUC, macro-F1 at the threshold, and ECE for frustrated-vs-not."""
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "macro_f1": float(f1_score(labels, probabilities >= threshold, average="macro")),
        "ece": expected_calibration_error(probabilities, labels),
    }


def urgency_metrics(distributions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return macro-F1, accuracy, top-label ECE and recall per urgency level."""
    predicted = distributions.argmax(axis=1)
    levels = list(range(len(URGENCY_LEVELS)))
    recalls = recall_score(labels, predicted, labels=levels, average=None, zero_division=0)
    figures = {
        "macro_f1": float(f1_score(labels, predicted, labels=levels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(labels, predicted)),
        "ece": top_label_ece(distributions, labels),
    }
    figures |= {f"recall_{level}": float(r) for level, r in zip(URGENCY_LEVELS, recalls, strict=True)}
    return figures

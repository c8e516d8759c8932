"""Fit a tenant's inbox: shift P(frustrated) to its own base rate and move the "moderate" boundary.

The model is calibrated on the support corpus, where frustrated tickets are far more common than in
most real inboxes. A tenant's labelled tickets (its feedback export) say by how much: one log-odds
shift, fitted by likelihood, and optionally its own threshold for "moderate".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from service.domain import FRUSTRATION_LEVELS, Scores
from service.tenants import TenantCalibration
from workers.inference.reasons import FRUSTRATION_FLOORS, floor_level

MODERATE = FRUSTRATION_LEVELS.index("moderate")
SHIFT_BOUNDS = (-5.0, 5.0)


def shifted(probability: float, shift: float) -> float:
    """Return the probability with `shift` added to its log-odds."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) + shift)))


def apply_tenant_calibration(
    scores: Scores, calibration: TenantCalibration, model_threshold: float
) -> Scores:
    """Return the scores as this tenant's inbox reads them; the defaults return them unchanged.

    Only the moderate boundary moves: "severe" rests on its own head and stays, and a level that a
    stated cue demands (a cancel threat is at least moderate) is never lowered.
    """
    frustration = scores.frustration
    if frustration is None or (
        calibration.frustration_shift == 0.0 and calibration.moderate_threshold is None
    ):
        return scores
    probability = shifted(frustration.probability, calibration.frustration_shift)
    threshold = calibration.moderate_threshold or model_threshold
    position = FRUSTRATION_LEVELS.index(frustration.level)
    if position < len(FRUSTRATION_LEVELS) - 1:
        if probability >= threshold:
            position = max(position, MODERATE)
        elif position == MODERATE:
            position = MODERATE - 1
        floor = floor_level(scores.reason_codes, FRUSTRATION_FLOORS, FRUSTRATION_LEVELS)
        if floor is not None:
            position = max(position, FRUSTRATION_LEVELS.index(floor))
    level = FRUSTRATION_LEVELS[position]
    updated = frustration.model_copy(
        update={
            "probability": round(probability, 4),
            "level": level,
            "evidence": frustration.evidence if level != "none" else [],
        }
    )
    return scores.model_copy(update={"frustration": updated})


def fit_tenant_calibration(
    probabilities: Sequence[float], frustrated: Sequence[int], *, fit_threshold: bool = True
) -> TenantCalibration:
    """Fit the log-odds shift (maximum likelihood) and, if asked, the F1-best moderate threshold."""
    # Imported here: scipy.optimize is 49 MB resident, and workers only apply calibrations.
    from scipy.optimize import minimize_scalar

    p = np.clip(np.asarray(probabilities, dtype=float), 1e-6, 1 - 1e-6)
    y = np.asarray(frustrated, dtype=float)
    logits = np.log(p / (1 - p))

    def nll(shift: float) -> float:
        q = np.clip(1.0 / (1.0 + np.exp(-(logits + shift))), 1e-9, 1 - 1e-9)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))

    shift = float(minimize_scalar(nll, bounds=SHIFT_BOUNDS, method="bounded").x)
    threshold = None
    if fit_threshold and 0 < y.sum() < len(y):
        from workers.training.metrics import best_threshold

        adjusted = 1.0 / (1.0 + np.exp(-(logits + shift)))
        threshold = min(max(best_threshold(adjusted, y), 0.01), 0.99)
    return TenantCalibration(frustration_shift=round(shift, 4), moderate_threshold=threshold)

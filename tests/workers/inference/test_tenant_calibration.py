"""A tenant's own base rate: shifting P(frustrated), moving the moderate boundary, fitting both."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from service.domain import Evidence, FrustrationScore, Scores
from service.tenants import Tenant, TenantCalibration
from workers.inference.tenant_calibration import apply_tenant_calibration, fit_tenant_calibration, shifted


def scores(probability: float, level: str, codes: list[str] | None = None) -> Scores:
    return Scores(
        frustration=FrustrationScore(
            probability=probability, level=level, evidence=[Evidence(text="nobody answers", weight=1.0)]
        ),
        urgency=None,
        reason_codes=codes or [],
        model_version="test",
    )


def test_the_defaults_change_nothing() -> None:
    original = scores(0.62, "moderate")
    assert apply_tenant_calibration(original, TenantCalibration(), 0.5) == original


def test_a_calmer_inbox_lowers_the_probability_and_moves_moderate_down_to_mild() -> None:
    result = apply_tenant_calibration(
        scores(0.62, "moderate"), TenantCalibration(frustration_shift=-1.0), 0.5
    )
    assert result.frustration is not None
    assert result.frustration.probability == pytest.approx(shifted(0.62, -1.0), abs=1e-4)
    assert result.frustration.probability < 0.5
    assert result.frustration.level == "mild"


def test_an_angrier_inbox_lifts_mild_to_moderate() -> None:
    result = apply_tenant_calibration(scores(0.45, "mild"), TenantCalibration(frustration_shift=0.5), 0.5)
    assert result.frustration is not None and result.frustration.level == "moderate"


def test_a_stated_cue_keeps_its_floor_and_severe_stays_severe() -> None:
    calmer = TenantCalibration(frustration_shift=-3.0)
    threat = apply_tenant_calibration(scores(0.62, "moderate", ["cancel_threat"]), calmer, 0.5)
    severe = apply_tenant_calibration(scores(0.9, "severe"), calmer, 0.5)
    assert threat.frustration is not None and threat.frustration.level == "moderate"
    assert severe.frustration is not None and severe.frustration.level == "severe"


def test_the_tenant_threshold_replaces_the_models() -> None:
    strict = TenantCalibration(moderate_threshold=0.8)
    result = apply_tenant_calibration(scores(0.7, "moderate"), strict, 0.5)
    assert result.frustration is not None and result.frustration.level == "mild"


def test_fitting_recovers_a_known_shift() -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0.0, 2.0, 4000)
    # The model says p; this tenant's truth is p shifted by -1.5 in log-odds.
    truth = rng.random(4000) < 1 / (1 + np.exp(-(logits - 1.5)))
    fitted = fit_tenant_calibration(1 / (1 + np.exp(-logits)), truth.astype(int))
    assert fitted.frustration_shift == pytest.approx(-1.5, abs=0.15)
    assert fitted.moderate_threshold is not None


def test_the_tenants_file_refuses_an_absurd_shift() -> None:
    with pytest.raises(ValidationError):
        Tenant.model_validate({"name": "acme", "calibration": {"frustration_shift": 40}})
    assert Tenant.model_validate({"name": "acme"}).calibration == TenantCalibration()

"""The eval table: every headline figure compared in the right direction, agreement reported."""

from __future__ import annotations

import numpy as np

from workers.inference.calibration import Calibration
from workers.training.evaluate import HEADLINES, Report, agreement


def _figures(value: float, ece: float) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {"frustration": {}, "urgency": {}}
    for task, metric, _ in HEADLINES:
        figures[task][metric] = ece if metric == "ece" else value
    return figures


def test_lower_ece_and_higher_everything_else_wins() -> None:
    report = Report(
        model=_figures(0.9, 0.02),
        baseline=_figures(0.8, 0.05),
        sizes={"frustration": 1, "urgency": 1},
        precision="int8",
    )
    assert all(report.wins().values())
    assert "BASELINE" not in report.table()


def test_a_worse_calibration_error_is_reported_as_a_loss() -> None:
    report = Report(
        model=_figures(0.9, 0.09),
        baseline=_figures(0.8, 0.05),
        sizes={"frustration": 1, "urgency": 1},
        precision="int8",
    )
    assert not report.wins()["frustration.ece"]
    assert "BASELINE" in report.table()


def test_identical_paths_agree_fully() -> None:
    logits = (np.array([[1.0, -1.0], [-2.0, -3.0]]), np.array([[0.0, 1.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]]))
    figures = agreement((Calibration(), Calibration()), logits, logits)
    assert figures["frustrated_decision"] == 1.0 and figures["urgency_top_level"] == 1.0
    assert figures["frustration_max_abs_diff"] == 0.0

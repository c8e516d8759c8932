"""Turn raw logits into calibrated probabilities and levels, with parameters fitted on dev data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from service.domain import URGENCY_LEVELS


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Return the logistic function, computed without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def softmax(x: np.ndarray) -> np.ndarray:
    """Return row-wise softmax."""
    shifted = x - x.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass
class Calibration:
    """Temperatures and decision thresholds, all fitted on the calibration half of the dev splits."""

    frustration_temperature: float = 1.0
    severe_temperature: float = 1.0
    urgency_temperature: float = 1.0
    # Per-level offsets added after the temperature (vector scaling): they correct the class priors
    # that the training mix got wrong, which one temperature cannot.
    urgency_bias: list[float] = field(default_factory=lambda: [0.0] * len(URGENCY_LEVELS))
    # Calibrated P(frustrated) from which a text counts as frustrated at all (tuned for macro-F1).
    frustration_threshold: float = 0.5
    # From this calibrated probability on, three texts in four like it are frustrated: "moderate".
    moderate_threshold: float = 0.75
    # Calibrated P(severe) (anger, disgust) from which the level is "severe" (tuned for F1).
    severe_threshold: float = 0.5
    # Ordinal models (1.1.0 on) have a third frustration logit, "any frustration at all": below this
    # calibrated probability the level is "none", from it "mild". Older models ignore both fields.
    any_temperature: float = 1.0
    mild_threshold: float = 0.5
    topic_temperature: float = 1.0

    def frustration(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return calibrated (P(frustrated), P(severe)) for logits of shape [N, 2]."""
        frustrated = sigmoid(logits[:, 0] / self.frustration_temperature)
        severe = sigmoid(logits[:, 1] / self.severe_temperature)
        # Severe is a kind of frustrated; never let it exceed the frustrated probability.
        return frustrated, np.minimum(severe, frustrated)

    def frustration_ordinal(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return calibrated (P(frustrated), P(severe), P(any frustration) or None for 2-logit models)."""
        frustrated, severe = self.frustration(logits)
        if logits.shape[1] < 3:
            return frustrated, severe, None
        # Frustrated (moderate or worse) is a kind of "any frustration"; keep the order monotone.
        return frustrated, severe, np.maximum(sigmoid(logits[:, 2] / self.any_temperature), frustrated)

    def ordinal_level(self, frustrated: float, severe: float, any_frustration: float | None) -> str:
        """Map calibrated probabilities onto the four levels (2-logit models: frustration_level)."""
        if any_frustration is None:
            return self.frustration_level(frustrated, severe)
        if severe >= self.severe_threshold and frustrated >= self.frustration_threshold:
            return "severe"
        if frustrated >= self.frustration_threshold:
            return "moderate"
        if any_frustration >= self.mild_threshold:
            return "mild"
        return "none"

    def topic(self, logits: np.ndarray) -> np.ndarray:
        """Return the calibrated distribution over topics (zero columns for a model without the head)."""
        if logits.shape[1] == 0:
            return logits
        return softmax(logits / self.topic_temperature)

    def urgency(self, logits: np.ndarray) -> np.ndarray:
        """Return the calibrated distribution over urgency levels for logits of shape [N, 4]."""
        return softmax(logits / self.urgency_temperature + np.asarray(self.urgency_bias))

    def frustration_level(self, frustrated: float, severe: float) -> str:
        """Map calibrated probabilities onto none/mild/moderate/severe."""
        if frustrated < self.frustration_threshold:
            return "none"
        if severe >= self.severe_threshold:
            return "severe"
        if frustrated >= max(self.moderate_threshold, self.frustration_threshold):
            return "moderate"
        return "mild"

    @staticmethod
    def urgency_level(distribution: np.ndarray) -> str:
        """Return the most probable urgency level."""
        return URGENCY_LEVELS[int(np.argmax(distribution))]

    def save(self, path: Path) -> None:
        """Write the parameters as JSON (one precision)."""
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path, precision: str = "fp32") -> Calibration:
        """Read the parameters fitted for a precision; fp16/bf16 use fp32's, which they track closely."""
        data = json.loads(path.read_text())
        if "fp32" not in data:  # a single-precision file, as written by save
            return cls(**data)
        return cls(**data.get(precision, data["fp32"]))


def save_calibrations(path: Path, calibrations: dict[str, Calibration]) -> None:
    """Write one calibration per runtime precision: int8 shifts logits enough to need its own fit."""
    path.write_text(json.dumps({name: asdict(c) for name, c in calibrations.items()}, indent=2) + "\n")

"""Test doubles for the Classifier seam. Scores come from markers in the text, never from its words.

`[frustration=0.9]`, `[urgency=critical]` set the scores; `[sleep=5]` makes predict slow (to kill a
worker mid-task); `[lang=de]` makes the text unsupported; `[crash]` kills the process (poison).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence

from service.domain import (
    FRUSTRATION_LEVELS,
    URGENCY_LEVELS,
    Evidence,
    FrustrationScore,
    Scores,
    UrgencyScore,
)

MARKER = re.compile(r"\[(\w+)(?:=([\w.]+))?\]")


class MarkerClassifier:
    model_version = "fake-markers-1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        self.calls.append(list(texts))
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Scores:
        markers = {name: value for name, value in MARKER.findall(text)}
        if "sleep" in markers:
            time.sleep(float(markers["sleep"]))
        if "crash" in markers:
            os._exit(1)
        if "lang" in markers:
            return Scores(
                frustration=None,
                urgency=None,
                language=markers["lang"],
                supported=False,
                model_version=self.model_version,
            )
        frustration = float(markers.get("frustration", 0.1))
        level = FRUSTRATION_LEVELS[min(3, int(frustration * 4))]
        urgency_level = markers.get("urgency", "normal")
        distribution = {lvl: (0.85 if lvl == urgency_level else 0.05) for lvl in URGENCY_LEVELS}
        evidence = [Evidence(text=text[:80], weight=1.0, message_index=0)]
        return Scores(
            frustration=FrustrationScore(probability=frustration, level=level, evidence=evidence),
            urgency=UrgencyScore(
                distribution=distribution, level=urgency_level, probability=0.85, evidence=evidence
            ),
            language="en",
            reason_codes=["repeat_contact"] if "again" in markers else [],
            model_version=self.model_version,
        )


class SlowLoadingClassifier(MarkerClassifier):
    """Loads like the real model: `load()` takes TRIAGE_TEST_LOAD_SECONDS, and `predict` loads first."""

    model_version = "fake-slow-load-1"

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False

    def load(self) -> None:
        if not self.loaded:
            time.sleep(float(os.environ.get("TRIAGE_TEST_LOAD_SECONDS", "5")))
            self.loaded = True

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        self.load()
        return super().predict(texts)

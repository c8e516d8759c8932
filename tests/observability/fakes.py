"""A marker classifier that also reports what the metrics read from a real model: device and tokens."""

from __future__ import annotations

from collections.abc import Sequence

from service.domain import Scores
from tests.fakes.classifier import MarkerClassifier


class CountingClassifier(MarkerClassifier):
    """Score from markers like MarkerClassifier; count whitespace tokens where a model counts its own."""

    device = "cpu"

    def __init__(self) -> None:
        super().__init__()
        self.last_batch_tokens: int | None = None
        self.loaded = False

    def load(self) -> None:
        """Mark the weights loaded (a real model reads them here)."""
        self.loaded = True

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        """Score the texts and remember how many tokens the batch held."""
        self.last_batch_tokens = sum(len(text.split()) for text in texts)
        return super().predict(texts)

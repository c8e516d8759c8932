"""The bar to beat: TF-IDF features with logistic regression, trained on the same examples as the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from workers.training.data import Example


def _pipeline(seed: int) -> Pipeline:
    # Word unigrams and bigrams with sublinear tf: the standard strong linear text baseline.
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000),
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed),
    )


@dataclass
class Baseline:
    """Three fitted TF-IDF + logistic-regression models: frustrated, severe, urgency."""

    frustrated: Pipeline
    severe: Pipeline
    urgency: Pipeline

    @classmethod
    def fit(cls, frustration: Sequence[Example], urgency: Sequence[Example], seed: int) -> Baseline:
        """Fit on the given training examples."""
        texts = [e.text for e in frustration]
        frustrated = _pipeline(seed).fit(texts, [e.frustrated for e in frustration])
        severe = _pipeline(seed).fit(texts, [e.severe for e in frustration])
        urgent = _pipeline(seed).fit([e.text for e in urgency], [e.urgency for e in urgency])
        return cls(frustrated, severe, urgent)

    def frustration_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return [N, 2] log-odds (frustrated, severe), the same shape the network emits."""
        return np.stack(
            [self.frustrated.decision_function(list(texts)), self.severe.decision_function(list(texts))],
            axis=1,
        )

    def urgency_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return [N, 4] class scores whose softmax is the model's distribution."""
        return np.asarray(self.urgency.decision_function(list(texts)))

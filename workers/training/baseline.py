"""The bar to beat: TF-IDF features with logistic regression, trained on the same examples as the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from workers.training.data import NO_LABEL, Example


def tfidf_pipeline(seed: int) -> Pipeline:
    """Return an unfitted TF-IDF + logistic-regression pipeline."""
    # Word unigrams and bigrams with sublinear tf: the standard strong linear text baseline.
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000),
        LogisticRegression(C=4.0, max_iter=2000, random_state=seed),
    )


def _fit_known(examples: Sequence[Example], attribute: str, seed: int) -> Pipeline:
    """Fit on the examples that carry the label (NO_LABEL rows say nothing about it)."""
    known = [e for e in examples if getattr(e, attribute) != NO_LABEL]
    return tfidf_pipeline(seed).fit([e.text for e in known], [getattr(e, attribute) for e in known])


@dataclass
class Baseline:
    """Fitted TF-IDF + logistic-regression models: frustrated, severe, any frustration, urgency."""

    frustrated: Pipeline
    severe: Pipeline
    urgency: Pipeline
    any_frustration: Pipeline | None = None

    @classmethod
    def fit(cls, frustration: Sequence[Example], urgency: Sequence[Example], seed: int) -> Baseline:
        """Fit on the given training examples."""
        has_any = any(e.any_frustration != NO_LABEL for e in frustration)
        return cls(
            frustrated=_fit_known(frustration, "frustrated", seed),
            severe=_fit_known(frustration, "severe", seed),
            urgency=_fit_known(urgency, "urgency", seed),
            any_frustration=_fit_known(frustration, "any_frustration", seed) if has_any else None,
        )

    def frustration_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return log-odds (frustrated, severe[, any frustration]), the same shape the network emits."""
        models = [self.frustrated, self.severe] + ([self.any_frustration] if self.any_frustration else [])
        return np.stack([m.decision_function(list(texts)) for m in models], axis=1)

    def urgency_logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return [N, 4] class scores whose softmax is the model's distribution."""
        return np.asarray(self.urgency.decision_function(list(texts)))

"""The batch-first classifier seam: the rest of the code never touches transformers directly."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from service.config import Settings
from service.domain import Scores


@runtime_checkable
class Classifier(Protocol):
    """Scores texts for frustration and urgency, many at a time."""

    model_version: str

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        """Return one `Scores` per text, in the order given."""
        ...


def load_classifier(settings: Settings) -> Classifier:
    """Build the classifier named by `settings.classifier`: `transformer` or a `module:Class` plug-in."""
    name = settings.classifier
    if name == "transformer":
        from workers.inference.transformer import TransformerClassifier

        return TransformerClassifier.from_settings(settings)
    module_name, _, class_name = name.partition(":")
    if not class_name:
        raise ValueError(f"TRIAGE_CLASSIFIER={name!r}: expected 'transformer' or 'module:Class'")
    cls = getattr(importlib.import_module(module_name), class_name)
    classifier = cls.from_settings(settings) if hasattr(cls, "from_settings") else cls()
    if not isinstance(classifier, Classifier):
        raise TypeError(f"{name} does not implement Classifier.predict")
    return classifier

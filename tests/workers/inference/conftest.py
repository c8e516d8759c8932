"""One real classifier per test session: loading the model is the slow part."""

from __future__ import annotations

import pytest

from workers.inference.artifacts_io import SHIPPED_DIR


@pytest.fixture(scope="session")
def real_classifier():
    """Return the shipped model on the CPU in its serving configuration (int8), evidence for every text."""
    from workers.inference.transformer import TransformerClassifier

    return TransformerClassifier(SHIPPED_DIR, device="cpu", threads=1, evidence="all")

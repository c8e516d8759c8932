"""What the worker's metrics read from the real classifier: resolved device, tokens per predict."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


def test_load_resolves_the_device_and_predict_counts_tokens(real_classifier):
    real_classifier.load()

    assert real_classifier.device_in_use == "cpu"  # never the "auto" setting once loaded
    real_classifier.predict(["How do I export my invoices?"])
    short = real_classifier.last_batch_tokens
    real_classifier.predict(["How do I export my invoices? " * 10])

    assert 5 < short < real_classifier.last_batch_tokens

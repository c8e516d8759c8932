"""The drafts' encoder in ONNX Runtime computes what the torch one does."""

from __future__ import annotations

import pytest

from workers.drafts.encoder import MiniLMEncoder, OnnxMiniLMEncoder, cosine

pytestmark = pytest.mark.model

TEXTS = [
    "I was charged twice for my subscription and nobody answers.",
    "How do I change the delivery address of my order?",
    "Our production dashboard is down since 9am. " * 20,  # past the 256-token window
]


def test_onnx_runtime_embeds_as_torch_does():
    torch_vectors = MiniLMEncoder().embed(TEXTS)
    onnx_vectors = OnnxMiniLMEncoder().embed(TEXTS)

    assert all(cosine(a, b) > 0.99999 for a, b in zip(torch_vectors, onnx_vectors, strict=True))
    # One at a time (no padding) gives the same vector as in a padded batch.
    alone = OnnxMiniLMEncoder().embed(TEXTS[:1])[0]
    assert cosine(alone, onnx_vectors[0]) > 0.99999

"""CUDA checks for the inference runtime; every test skips where torch sees no CUDA device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workers.inference.artifacts_io import SHIPPED_DIR

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.model,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]

TEXTS = [
    "This is the third time I am writing. Your service is a disgrace and I am furious.",
    "Hello, how do I update the billing address on my account?",
    "Production is down since 9am and none of our customers can log in.",
    "My card was stolen and someone is using it right now.",
] * 16


@pytest.fixture(scope="module")
def fp32_cpu():
    from workers.inference.runtime import InferenceRuntime

    return InferenceRuntime.load(SHIPPED_DIR, device="cpu", precision="fp32", threads=4).logits(TEXTS)


def test_auto_device_picks_cuda_and_fp16() -> None:
    from workers.inference.runtime import InferenceRuntime

    runtime = InferenceRuntime.load(SHIPPED_DIR, device="auto")
    assert runtime.device.type == "cuda" and runtime.precision == "fp16"


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_agrees_with_fp32_cpu(precision: str, fp32_cpu) -> None:
    from workers.inference.runtime import InferenceRuntime

    runtime = InferenceRuntime.load(SHIPPED_DIR, device="cuda", precision=precision, max_batch_size=256)  # type: ignore[arg-type]
    logits = runtime.logits(TEXTS)
    assert np.array_equal(logits.urgency.argmax(1), fp32_cpu.urgency.argmax(1))
    assert np.max(np.abs(logits.frustration - fp32_cpu.frustration)) < 0.15


def test_classifier_serves_on_cuda_with_evidence() -> None:
    from workers.inference.transformer import TransformerClassifier

    classifier = TransformerClassifier(SHIPPED_DIR, device="cuda", evidence="all", max_batch_size=256)
    scores = classifier.predict(TEXTS[:4])
    assert classifier.runtime.device.type == "cuda"
    assert scores[0].frustration is not None and scores[0].frustration.evidence
    assert scores[3].urgency is not None and scores[3].urgency.level in ("high", "critical")


def test_large_batch_does_not_run_out_of_memory() -> None:
    from workers.inference.runtime import InferenceRuntime

    runtime = InferenceRuntime.load(SHIPPED_DIR, device="cuda", max_batch_size=512, max_length=256)
    logits = runtime.logits(["word " * 400] * 1024)
    assert logits.frustration.shape == (1024, 2)

"""Throughput, side by side in one run: a naive transformers pipeline (batch 1) against our runtime."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from workers.inference.artifacts_io import SHIPPED_DIR
from workers.inference.model import mean_pool

_FALLBACK_SENTENCES = [
    "I was charged twice for my subscription this month.",
    "The app crashes every time I open the billing page.",
    "This is the third time I am writing and nobody answers.",
    "Could you tell me how to change my delivery address?",
    "Our production dashboard has been down since 9am and customers cannot log in.",
    "Thanks for the quick help yesterday, everything works now.",
    "My card was stolen and someone used it at a shop I have never been to.",
    "I need the invoice before Friday or our finance team cannot pay you.",
]


@dataclass
class BenchResult:
    """Texts per second of one path."""

    name: str
    texts: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Return throughput in texts per second."""
        return self.texts / self.seconds


def bench_texts(count: int, data_dir: Path | None, seed: int = 7) -> list[str]:
    """Build `count` ticket-like texts of about 20-300 words from dev-split sentences (seeded)."""
    sentences = list(_FALLBACK_SENTENCES)
    if data_dir is not None and data_dir.is_dir():
        from workers.training.data import load_splits

        splits = load_splits(data_dir)
        sentences = [e.text for e in splits.urgency_dev if len(e.text) < 400] + [
            e.text for e in splits.frustration_dev
        ]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(20, 300)
        words: list[str] = []
        while len(words) < target:
            words.extend(rng.choice(sentences).split())
        texts.append(" ".join(words[:target]))
    return texts


def _timed(name: str, texts: Sequence[str], run: Callable[[Sequence[str]], object]) -> BenchResult:
    run(texts[:4])  # warm-up: first calls pay allocation and kernel selection
    started = time.perf_counter()
    run(texts)
    return BenchResult(name, len(texts), time.perf_counter() - started)


def run_benchmark(
    artifact_dir: Path = SHIPPED_DIR,
    *,
    count: int = 256,
    threads: int = 1,
    batch_size: int = 8,
    max_length: int = 128,
    rounds: int = 4,
    data_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[BenchResult]:
    """Measure the naive pipeline, our fp32 and int8 runtimes, and the full classifier, on one text set."""
    from transformers import pipeline

    from workers.inference.runtime import InferenceRuntime, build_inference_network
    from workers.inference.transformer import TransformerClassifier

    torch.set_num_threads(threads)
    texts = bench_texts(count, data_dir)
    network, tokenizer = build_inference_network(artifact_dir, plain=False)
    extractor = pipeline(  # type: ignore[call-overload]
        "feature-extraction",
        model=network.encoder,
        tokenizer=tokenizer,
        device="cpu",
        tokenize_kwargs={"truncation": True, "max_length": max_length},
    )

    def naive(batch: Sequence[str]) -> list[tuple[torch.Tensor, ...]]:
        # One text at a time through the stock pipeline, then the same pooling and heads.
        outputs = []
        for text in batch:
            hidden = extractor(text, return_tensors=True)
            mask = torch.ones(hidden.shape[:2], dtype=torch.long)
            pooled = mean_pool(hidden, mask)
            with torch.inference_mode():
                outputs.append(tuple(network.heads(pooled)))
        return outputs

    def runtime_path(precision: str) -> Callable[[Sequence[str]], object]:
        runtime = InferenceRuntime(
            copy.deepcopy(network),
            tokenizer,
            device=torch.device("cpu"),
            precision=precision,  # type: ignore[arg-type]
            max_length=max_length,
            max_batch_size=batch_size,
        )
        return runtime.logits

    def classifier(evidence: str) -> Callable[[Sequence[str]], object]:
        return TransformerClassifier(
            artifact_dir,
            device="cpu",
            threads=threads,
            max_batch_size=batch_size,
            evidence=evidence,  # type: ignore[arg-type]
        ).predict

    paths = [
        ("naive transformers pipeline, fp32, batch 1", naive),
        (f"our runtime fp32, sorted, batch {batch_size}", runtime_path("fp32")),
        (f"our runtime int8, sorted, batch {batch_size}", runtime_path("int8")),
        ("full classifier int8: hygiene+language+reasons, no evidence", classifier("none")),
        ("full classifier int8: same + evidence for flagged texts", classifier("flagged")),
    ]
    return _interleaved(paths, texts, rounds, log)


def _interleaved(
    paths: Sequence[tuple[str, Callable[[Sequence[str]], object]]],
    texts: Sequence[str],
    rounds: int,
    log: Callable[[str], None],
) -> list[BenchResult]:
    """Time every path on the same slices in turn, so load from other jobs hits all paths alike."""
    for name, run in paths:
        log(f"warming up {name} ...")
        run(texts[:4])  # first calls pay loading, allocation and kernel selection
    seconds = [0.0] * len(paths)
    size = -(-len(texts) // rounds)
    for start in range(0, len(texts), size):
        chunk = texts[start : start + size]
        for index, (_, run) in enumerate(paths):
            started = time.perf_counter()
            run(chunk)
            seconds[index] += time.perf_counter() - started
        log(f"round done: {start + len(chunk)}/{len(texts)} texts")
    return [BenchResult(name, len(texts), spent) for (name, _), spent in zip(paths, seconds, strict=True)]


def format_results(results: Sequence[BenchResult], threads: int) -> str:
    """Render throughputs and ratios against the first (naive) path."""
    naive = results[0].per_second
    lines = [
        f"{results[0].texts} ticket-like texts of 20-300 words, max_length 128, torch threads {threads}, "
        "paths interleaved per round"
    ]
    lines.append(f"{'path':<68}{'texts/s':>9}{'ratio':>8}")
    for result in results:
        lines.append(f"{result.name:<68}{result.per_second:>9.1f}{result.per_second / naive:>7.2f}x")
    return "\n".join(lines)


def run_gpu_benchmark(
    artifact_dir: Path = SHIPPED_DIR,
    *,
    count: int = 4096,
    batch_sizes: Sequence[int] = (32, 128, 256),
    data_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[BenchResult]:
    """Measure the naive batch-1 pipeline on CUDA against our fp16/bf16 runtime at several batch sizes."""
    from transformers import pipeline

    from workers.inference.runtime import InferenceRuntime, build_inference_network

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: the GPU benchmark cannot run here")
    texts = bench_texts(count, data_dir)
    network, tokenizer = build_inference_network(artifact_dir, plain=False)
    extractor = pipeline(  # type: ignore[call-overload]
        "feature-extraction",
        model=copy.deepcopy(network.encoder).to("cuda"),
        tokenizer=tokenizer,
        device="cuda",
        tokenize_kwargs={"truncation": True, "max_length": 128},
    )

    def naive(batch: Sequence[str]) -> None:
        for text in batch:
            extractor(text, return_tensors=True)
        torch.cuda.synchronize()

    results = [_timed("naive transformers pipeline, fp32, batch 1", texts[:512], naive)]
    for precision in ("fp16", "bf16"):
        for batch_size in batch_sizes:
            runtime = InferenceRuntime(
                copy.deepcopy(network),
                tokenizer,
                device=torch.device("cuda"),
                precision=precision,
                max_batch_size=batch_size,
            )

            def ours(batch: Sequence[str], runtime: InferenceRuntime = runtime) -> None:
                runtime.logits(batch)
                torch.cuda.synchronize()

            name = f"our runtime {precision}, sorted, batch {batch_size}"
            log(f"measuring {name} ...")
            results.append(_timed(name, texts, ours))
    return results

"""Batching across tickets, measured: tickets/s at saturation, p50 latency at half load, GPU busy share.

`tests/gpu/run_gpu_checks.sh` runs `run_gpu_gathering` on a lent GPU. It measures the classifier
behind `BatchingClassifier` with one-ticket callers, as a threads-pool worker's tasks call it; the
database and queue round trips of a full worker are not in these figures.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from workers.bench.load import percentile
from workers.inference.base import Classifier
from workers.inference.batching import BatchingClassifier


@dataclass
class GatheringResult:
    """Throughput at saturation and latency at half of it, with the batch sizes the gatherer formed."""

    tickets: int
    saturated_per_second: float
    half_load_p50_seconds: float
    half_load_p99_seconds: float
    mean_batch: float
    gpu_busy_percent: float | None

    def table(self) -> str:
        """Render the figures."""
        busy = "n/a" if self.gpu_busy_percent is None else f"{self.gpu_busy_percent:.0f} %"
        return "\n".join(
            [
                f"gathered batches, one ticket per caller, {self.tickets} tickets",
                f"tickets/s per worker at saturation  {self.saturated_per_second:10.0f}",
                f"mean texts per forward pass         {self.mean_batch:10.1f}",
                f"GPU utilisation at saturation       {busy:>10}",
                f"p50 / p99 latency at half load      {self.half_load_p50_seconds * 1000:7.1f} ms / "
                f"{self.half_load_p99_seconds * 1000:.1f} ms",
            ]
        )


class _GpuBusy:
    """Sample nvidia-smi's utilisation while running; None where there is no nvidia-smi."""

    def __enter__(self) -> _GpuBusy:
        self.samples: list[float] = []
        try:
            self.process: subprocess.Popen[str] | None = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
                stdout=subprocess.PIPE,
                text=True,
            )
        except OSError:
            self.process = None
            return self
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip().isdigit():
                self.samples.append(float(line))

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)

    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def measure_gathering(
    classifier: Classifier,
    texts: Sequence[str],
    *,
    callers: int = 256,
    max_batch_size: int = 256,
    max_wait_seconds: float = 0.005,
    seconds: float = 10.0,
    log: Callable[[str], None] = print,
) -> GatheringResult:
    """Saturate a gathering classifier with `callers` threads, then offer half that rate (Poisson)."""
    batcher = BatchingClassifier(classifier, max_batch_size=max_batch_size, max_wait_seconds=max_wait_seconds)
    batcher.predict(list(texts[:max_batch_size]))  # warm-up: kernels, allocator
    batcher.batch_sizes.clear()
    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def caller(offset: int) -> None:
        index = offset
        while time.monotonic() < stop:
            batcher.predict([texts[index % len(texts)]])
            index += callers
            with lock:
                done[0] += 1

    log(f"saturating with {callers} callers for {seconds:.0f}s ...")
    with _GpuBusy() as busy:
        started = time.perf_counter()
        threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    saturated = done[0] / elapsed
    mean_batch = sum(batcher.batch_sizes) / max(1, len(batcher.batch_sizes))

    rate = saturated / 2
    count = max(50, int(rate * seconds))
    log(f"offering {rate:.0f} tickets/s (half load) for {count} tickets ...")
    latencies: list[float] = []
    rng = random.Random(3)

    def timed(text: str) -> None:
        started = time.perf_counter()
        batcher.predict([text])
        latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=callers) as pool:
        next_at = time.perf_counter()
        for index in range(count):
            next_at += rng.expovariate(rate)
            time.sleep(max(0.0, next_at - time.perf_counter()))
            pool.submit(timed, texts[index % len(texts)])
    return GatheringResult(
        tickets=done[0],
        saturated_per_second=saturated,
        half_load_p50_seconds=percentile(latencies, 0.5),
        half_load_p99_seconds=percentile(latencies, 0.99),
        mean_batch=mean_batch,
        gpu_busy_percent=busy.mean(),
    )


def run_gpu_gathering(data_dir: object = None, log: Callable[[str], None] = print) -> GatheringResult:
    """Measure the production classifier on CUDA (fp16, evidence for flagged texts) at 128 tokens."""
    from pathlib import Path

    import torch

    from workers.inference.benchmark import bench_texts
    from workers.inference.transformer import TransformerClassifier

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device: the gathering benchmark needs a GPU")
    classifier = TransformerClassifier(device="cuda", max_batch_size=256, max_length=128)
    classifier.load()
    texts = bench_texts(4096, Path(str(data_dir)) if data_dir else None)
    return measure_gathering(classifier, texts, log=log)

"""`triage bench evidence`: does the one-pass (pooled) evidence point at the sentences occlusion points at?"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.domain import Evidence, Scores


@dataclass
class Agreement:
    """How often the two methods agree, over texts with two or more sentences, and what each cost."""

    texts: int
    compared: dict[str, int]
    same_top: dict[str, int]
    top_in_top3: dict[str, int]
    seconds: dict[str, float]

    def table(self) -> str:
        """Render the agreement and speed figures."""
        lines = [f"{self.texts} dev texts of two or more sentences, evidence for every text"]
        for score in ("frustration", "urgency"):
            compared = self.compared[score] or 1
            lines.append(
                f"{score:<12} same top sentence {self.same_top[score] / compared:6.1%}  "
                f"pooled top among occlusion's top 3 {self.top_in_top3[score] / compared:6.1%}  "
                f"(n={self.compared[score]})"
            )
        pooled, occlusion = self.seconds["pooled"], self.seconds["occlusion"]
        lines.append(
            f"texts/s: pooled {self.texts / pooled:.1f}, occlusion {self.texts / occlusion:.1f} "
            f"({occlusion / pooled:.2f}x)"
        )
        return "\n".join(lines)


def dev_texts(count: int, data_dir: Path | None, seed: int = 11) -> list[str]:
    """Return seeded multi-sentence texts: bug reports and stitched dev sentences (the bench's mix)."""
    from workers.bench.pipeline import bench_tickets
    from workers.inference.evidence import split_segments

    texts = [t.text() for t in bench_tickets(count * 4, data_dir, seed)]
    return [t for t in texts if len(split_segments(t)) > 1][:count]


def _top(evidence: Sequence[Evidence]) -> list[str]:
    return [e.text for e in sorted(evidence, key=lambda e: -e.weight)]


def measure_agreement(
    texts: Sequence[str], *, threads: int = 1, log: Callable[[str], None] = print
) -> Agreement:
    """Score `texts` with evidence by both methods; count agreement on the top sentence."""
    import torch

    from workers.inference.transformer import EvidenceMethod, TransformerClassifier

    torch.set_num_threads(threads)
    results: dict[str, list[Scores]] = {}
    seconds: dict[str, float] = {}
    methods: tuple[EvidenceMethod, ...] = ("pooled", "occlusion")
    for method in methods:
        classifier = TransformerClassifier(
            device="cpu", threads=threads, evidence="all", evidence_method=method
        )
        classifier.predict(list(texts[:2]))
        log(f"scoring {len(texts)} texts with {method} evidence ...")
        started = time.perf_counter()
        results[method] = [
            s for i in range(0, len(texts), 16) for s in classifier.predict(list(texts[i : i + 16]))
        ]
        seconds[method] = time.perf_counter() - started
    compared = {"frustration": 0, "urgency": 0}
    same = dict.fromkeys(compared, 0)
    within = dict.fromkeys(compared, 0)
    for pooled, occlusion in zip(results["pooled"], results["occlusion"], strict=True):
        for score in compared:
            a, b = getattr(pooled, score), getattr(occlusion, score)
            if a is None or b is None or not a.evidence or not b.evidence:
                continue
            compared[score] += 1
            top_pooled, top_occlusion = _top(a.evidence), _top(b.evidence)
            same[score] += top_pooled[0] == top_occlusion[0]
            within[score] += top_pooled[0] in top_occlusion[:3]
    return Agreement(len(texts), compared, same, within, seconds)

"""The production classifier: hygiene, language gate, calibrated MiniLM scores, evidence and reason codes."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from service.config import Settings
from service.domain import (
    FRUSTRATION_LEVELS,
    TOPICS,
    URGENCY_LEVELS,
    Evidence,
    FrustrationScore,
    Scores,
    TopicScore,
    UrgencyScore,
)
from workers.inference.artifacts_io import CALIBRATION_FILE, METADATA_FILE, SHIPPED_DIR
from workers.inference.calibration import Calibration
from workers.inference.evidence import Segment, attribute, split_segments, without_segment
from workers.inference.hygiene import clean_message
from workers.inference.language import detect_language
from workers.inference.reasons import FRUSTRATION_FLOORS, URGENCY_FLOORS, floor_level, reason_codes

if TYPE_CHECKING:
    from workers.inference.runtime import InferenceRuntime, Logits, Precision

# all: every scored text gets evidence.
# flagged: only texts a human will look at (frustrated, or high/critical urgency); the rest skip it.
# none: scores only.
EvidenceMode = Literal["all", "flagged", "none"]
# pooled: each sentence left out of the mean-pooled token states, from the one forward pass that scores
# the text (the heads are linear on that mean). occlusion: each sentence deleted from the text and the
# variant encoded again, one more forward pass per sentence; kept to measure agreement against.
EvidenceMethod = Literal["pooled", "occlusion"]
UNSUPPORTED_LANGUAGE = "unsupported_language"
EMPTY_TEXT = "empty_text"


def model_version_of(artifact_dir: Path) -> str:
    """Return `name-version` from an artefact directory's metadata, without loading any weights."""
    import json

    metadata = json.loads((artifact_dir / METADATA_FILE).read_text())
    return f"{metadata['name']}-{metadata['version']}"


def _at_least(level: str, codes: list[str], floors: dict[str, str], levels: Sequence[str]) -> str:
    floor = floor_level(codes, floors, levels)
    return level if floor is None or levels.index(level) >= levels.index(floor) else floor


def _topic(distribution: np.ndarray) -> TopicScore:
    best = int(distribution.argmax())
    return TopicScore(label=TOPICS[best], probability=round(float(distribution[best]), 4))


def _lift(distribution: np.ndarray, floor: str | None) -> np.ndarray:
    """Move the probability of levels below the floor onto the floor level (a stated cue rules them out)."""
    if floor is None:
        return distribution
    cut = URGENCY_LEVELS.index(floor)
    lifted = distribution.copy()
    lifted[cut] += lifted[:cut].sum()
    lifted[:cut] = 0.0
    return lifted


class TransformerClassifier:
    """Scores texts with the fine-tuned MiniLM; cheap to construct, loads the model on first use.

    Construct it anywhere: the weights load lazily in whichever process first calls `predict`, and a
    process forked after loading reloads its own copy (torch state must not cross a fork).
    """

    def __init__(
        self,
        artifact_dir: Path = SHIPPED_DIR,
        *,
        device: str = "auto",
        precision: Precision = "auto",
        threads: int | None = 1,
        max_batch_size: int = 32,
        max_length: int = 128,
        evidence: EvidenceMode = "flagged",
        evidence_method: EvidenceMethod = "pooled",
    ) -> None:
        self.artifact_dir = Path(artifact_dir)
        self.model_version = model_version_of(self.artifact_dir)
        # Replaced by the fit for the runtime's precision once the model loads.
        self.calibration = Calibration.load(self.artifact_dir / CALIBRATION_FILE)
        self.device = device
        self.precision = precision
        self.threads = threads
        self.max_batch_size = max_batch_size
        self.max_length = max_length
        self.evidence = evidence
        self.evidence_method = evidence_method
        self._runtime: InferenceRuntime | None = None
        self._loaded_in_pid: int | None = None
        # Tokens encoded by the last `predict`, occlusion passes included (read by the worker's metrics).
        self.last_batch_tokens = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformerClassifier:
        """Build from settings: model dir, device, precision, threads, batch size, evidence mode."""
        return cls(
            settings.model_dir or SHIPPED_DIR,
            device=settings.device,
            precision=settings.inference_precision,
            threads=settings.inference_threads,
            max_batch_size=settings.max_batch_size,
            evidence=settings.evidence_mode,
            evidence_method=settings.evidence_method,
        )

    @property
    def runtime(self) -> InferenceRuntime:
        """Return this process's runtime, loading it on first use (and again after a fork)."""
        with self._lock:
            if self._runtime is None or self._loaded_in_pid != os.getpid():
                from workers.inference.runtime import InferenceRuntime

                self._runtime = InferenceRuntime.load(
                    self.artifact_dir,
                    device=self.device,
                    precision=self.precision,
                    threads=self.threads,
                    max_length=self.max_length,
                    max_batch_size=self.max_batch_size,
                )
                self._loaded_in_pid = os.getpid()
                self.calibration = Calibration.load(
                    self.artifact_dir / CALIBRATION_FILE, self._runtime.precision
                )
            return self._runtime

    def load(self) -> None:
        """Load the weights now, so a worker's first ticket does not wait for them."""
        _ = self.runtime

    @property
    def device_in_use(self) -> str:
        """Return the device the model runs on once loaded (`cpu`, `cuda:0`), else the setting."""
        return str(self._runtime.device) if self._runtime is not None else self.device

    def predict(self, texts: Sequence[str]) -> list[Scores]:
        """Return one `Scores` per text, in the order given."""
        self.last_batch_tokens = 0
        cleaned = [clean_message(text) for text in texts]
        results: list[Scores | None] = [None] * len(texts)
        scored: list[int] = []
        languages: dict[int, str | None] = {}
        for index, text in enumerate(cleaned):
            if not text:
                results[index] = self._unscored(None, EMPTY_TEXT)
                continue
            verdict = detect_language(text)
            languages[index] = verdict.language
            if verdict.supported:
                scored.append(index)
            else:
                results[index] = self._unscored(verdict.language, UNSUPPORTED_LANGUAGE)
        if scored:
            for index, scores in zip(scored, self._score([cleaned[i] for i in scored]), strict=True):
                results[index] = self._anchor(scores, texts[index], languages[index])
        return [r for r in results if r is not None]

    def _unscored(self, language: str | None, reason: str) -> Scores:
        return Scores(
            frustration=None,
            urgency=None,
            language=language,
            supported=False,
            reason_codes=[reason],
            model_version=self.model_version,
        )

    def _score(self, texts: list[str]) -> list[Scores]:
        # Touch the runtime first: loading it swaps in the calibration fitted for its precision.
        tokens_before = self.runtime.tokens_processed
        # Sentences are split up front: which texts get evidence is known only after scoring, and the
        # pooled method needs the spans during the one forward pass.
        pooled = self.evidence != "none" and self.evidence_method == "pooled"
        segments = [split_segments(t) if pooled else [] for t in texts]
        spans = [[(part.start, part.end) for part in parts] if len(parts) > 1 else [] for parts in segments]
        logits, occluded = self.runtime.logits_and_occlusions(texts, spans if pooled else None)
        calibration = self.calibration
        frustrated, severe, any_frustration = calibration.frustration_ordinal(logits.frustration)
        model_urgency = calibration.urgency(logits.urgency)
        topics = calibration.topic(logits.topic)
        codes = [reason_codes(text) for text in texts]
        levels = [
            _at_least(
                calibration.ordinal_level(
                    float(frustrated[i]),
                    float(severe[i]),
                    None if any_frustration is None else float(any_frustration[i]),
                ),
                codes[i],
                FRUSTRATION_FLOORS,
                FRUSTRATION_LEVELS,
            )
            for i in range(len(texts))
        ]
        distributions = (
            np.stack(
                [
                    _lift(model_urgency[i], floor_level(codes[i], URGENCY_FLOORS, URGENCY_LEVELS))
                    for i in range(len(texts))
                ]
            )
            if len(texts)
            else model_urgency
        )
        top = distributions.argmax(axis=1)
        explain = [
            self.evidence == "all"
            or (
                self.evidence == "flagged"
                and (levels[i] != "none" or URGENCY_LEVELS[top[i]] in ("high", "critical"))
            )
            for i in range(len(texts))
        ]
        # Evidence explains the model's own probabilities, before any cue floor.
        if pooled:
            frustration_evidence, urgency_evidence = self._attribute(
                [parts if want else [] for parts, want in zip(segments, explain, strict=True)],
                occluded,
                frustrated,
                model_urgency,
                top,
            )
        else:
            frustration_evidence, urgency_evidence = self._occlusion(
                texts, explain, frustrated, model_urgency, top
            )
        self.last_batch_tokens = self.runtime.tokens_processed - tokens_before
        results = []
        for i in range(len(texts)):
            distribution = {
                level: round(float(p), 4) for level, p in zip(URGENCY_LEVELS, distributions[i], strict=True)
            }
            results.append(
                Scores(
                    frustration=FrustrationScore(
                        probability=round(float(frustrated[i]), 4),
                        level=levels[i],
                        evidence=frustration_evidence[i] if levels[i] != "none" else [],
                    ),
                    urgency=UrgencyScore(
                        distribution=distribution,
                        level=URGENCY_LEVELS[top[i]],
                        probability=round(float(distributions[i, top[i]]), 4),
                        evidence=urgency_evidence[i],
                    ),
                    reason_codes=codes[i],
                    model_version=self.model_version,
                    topic=_topic(topics[i]) if topics.shape[1] == len(TOPICS) else None,
                )
            )
        return results

    def _occlusion(
        self,
        texts: list[str],
        explain: list[bool],
        frustrated: np.ndarray,
        distributions: np.ndarray,
        top: np.ndarray,
    ) -> tuple[list[list[Evidence]], list[list[Evidence]]]:
        """Score every explained text with each segment removed, all variants in one batched call."""
        segments: list[list[Segment]] = [
            split_segments(t) if want else [] for t, want in zip(texts, explain, strict=True)
        ]
        # Variants stay grouped per text, in text order; the loop below walks them with a cursor.
        variants = [
            without_segment(texts[index], part)
            for index, parts in enumerate(segments)
            if len(parts) > 1
            for part in parts
        ]
        occluded = self.runtime.logits(variants)
        occluded_frustrated, _ = self.calibration.frustration(occluded.frustration)
        occluded_urgency = self.calibration.urgency(occluded.urgency)
        frustration_evidence: list[list[Evidence]] = [[] for _ in texts]
        urgency_evidence: list[list[Evidence]] = [[] for _ in texts]
        cursor = 0
        for index, parts in enumerate(segments):
            if not parts:
                continue
            count = len(parts) if len(parts) > 1 else 0
            rows = range(cursor, cursor + count)
            cursor += count
            frustration_evidence[index] = attribute(
                parts, float(frustrated[index]), [float(occluded_frustrated[r]) for r in rows]
            )
            urgency_evidence[index] = attribute(
                parts,
                float(distributions[index, top[index]]),
                [float(occluded_urgency[r, top[index]]) for r in rows],
            )
        return frustration_evidence, urgency_evidence

    def _attribute(
        self,
        segments: list[list[Segment]],
        occluded: list[Logits],
        frustrated: np.ndarray,
        distributions: np.ndarray,
        top: np.ndarray,
    ) -> tuple[list[list[Evidence]], list[list[Evidence]]]:
        """Weigh each explained text's sentences by how much leaving them out lowers its scores."""
        frustration_evidence: list[list[Evidence]] = [[] for _ in segments]
        urgency_evidence: list[list[Evidence]] = [[] for _ in segments]
        for index, parts in enumerate(segments):
            if not parts:
                continue
            without = occluded[index]
            occluded_frustrated, _ = self.calibration.frustration(without.frustration)
            occluded_urgency = self.calibration.urgency(without.urgency)
            frustration_evidence[index] = attribute(
                parts, float(frustrated[index]), [float(p) for p in occluded_frustrated]
            )
            urgency_evidence[index] = attribute(
                parts,
                float(distributions[index, top[index]]),
                [float(row[top[index]]) for row in occluded_urgency],
            )
        return frustration_evidence, urgency_evidence

    def _anchor(self, scores: Scores, original: str, language: str | None) -> Scores:
        """Point evidence offsets at the caller's original text where the span appears verbatim."""

        def locate(items: list[Evidence]) -> list[Evidence]:
            located = []
            for item in items:
                start = original.find(item.text)
                located.append(
                    item.model_copy(update={"start": start, "end": start + len(item.text)})
                    if start >= 0
                    else item.model_copy(update={"start": None, "end": None})
                )
            return located

        frustration = scores.frustration
        urgency = scores.urgency
        return scores.model_copy(
            update={
                "language": language or "en",
                "frustration": frustration.model_copy(update={"evidence": locate(frustration.evidence)})
                if frustration
                else None,
                "urgency": urgency.model_copy(update={"evidence": locate(urgency.evidence)})
                if urgency
                else None,
            }
        )

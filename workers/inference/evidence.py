"""Evidence by occlusion: drop one sentence (or clause) at a time and see how much a score falls."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.domain import Evidence

# Long tickets are grouped into at most this many contiguous spans, bounding the extra forward passes.
MAX_SEGMENTS = 8
TOP_EVIDENCE = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+(?=\bbut\b|\band\b(?= (?:i|we|it|you|they|now|still)\b))", re.I)


@dataclass(frozen=True)
class Segment:
    """A span of the text: [start, end) offsets into the scored string."""

    text: str
    start: int
    end: int


def _spans(text: str, boundary: re.Pattern[str]) -> list[Segment]:
    segments = []
    position = 0
    for match in [*boundary.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[position:end]
        if piece.strip():
            offset = position + len(piece) - len(piece.lstrip())
            segments.append(Segment(piece.strip(), offset, offset + len(piece.strip())))
        if match:
            position = match.end()
    return segments


def split_segments(text: str, max_segments: int = MAX_SEGMENTS) -> list[Segment]:
    """Split into sentences, or clauses when there is one sentence; merge down to max_segments."""
    segments = _spans(text, _SENTENCE_END)
    if len(segments) == 1:
        segments = _spans(text, _CLAUSE_END) or segments
    if len(segments) <= max_segments:
        return segments
    # Merge neighbours into max_segments contiguous groups of about equal count.
    groups = []
    size = len(segments) / max_segments
    for group in range(max_segments):
        members = segments[round(group * size) : round((group + 1) * size)]
        start, end = members[0].start, members[-1].end
        groups.append(Segment(text[start:end], start, end))
    return groups


def without_segment(text: str, segment: Segment) -> str:
    """Return the text with one segment removed."""
    return re.sub(r"\s+", " ", f"{text[: segment.start]} {text[segment.end :]}").strip()


def attribute(
    segments: Sequence[Segment],
    full_score: float,
    occluded_scores: Sequence[float],
    top: int = TOP_EVIDENCE,
) -> list[Evidence]:
    """Return the segments whose removal lowers the score most, weighted by their share of the drop."""
    if len(segments) == 1:
        only = segments[0]
        return [Evidence(text=only.text, weight=1.0, start=only.start, end=only.end)]
    drops = [(full_score - score, segment) for score, segment in zip(occluded_scores, segments, strict=True)]
    positive = [(drop, segment) for drop, segment in drops if drop > 0.0]
    total = sum(drop for drop, _ in positive)
    if total <= 0.0:
        return []
    positive.sort(key=lambda item: item[0], reverse=True)
    return [
        Evidence(text=segment.text, weight=round(drop / total, 4), start=segment.start, end=segment.end)
        for drop, segment in positive[:top]
    ]

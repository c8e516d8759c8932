"""Occlusion evidence: segments, their removal, and the weights they earn."""

from __future__ import annotations

from workers.inference.evidence import Segment, attribute, split_segments, without_segment


def test_sentences_carry_offsets_into_the_text() -> None:
    text = "Hi there. It arrived broken!\nPlease help."
    segments = split_segments(text)
    assert [s.text for s in segments] == ["Hi there.", "It arrived broken!", "Please help."]
    assert all(text[s.start : s.end] == s.text for s in segments)


def test_single_sentence_falls_back_to_clauses() -> None:
    segments = split_segments("I was charged twice, and I want my money back now")
    assert [s.text for s in segments] == ["I was charged twice,", "and I want my money back now"]


def test_long_texts_are_merged_into_a_bounded_number_of_segments() -> None:
    text = " ".join(f"Sentence number {i}." for i in range(30))
    segments = split_segments(text, max_segments=8)
    assert len(segments) == 8
    assert segments[0].start == 0 and segments[-1].end == len(text)


def test_removing_a_segment_keeps_the_rest() -> None:
    text = "One. Two. Three."
    assert without_segment(text, split_segments(text)[1]) == "One. Three."


def test_weights_follow_the_drop_in_score() -> None:
    segments = [Segment("calm", 0, 4), Segment("angry", 5, 10), Segment("neutral", 11, 18)]
    evidence = attribute(segments, full_score=0.9, occluded_scores=[0.85, 0.3, 0.95])
    assert [e.text for e in evidence] == ["angry", "calm"]
    assert abs(sum(e.weight for e in evidence) - 1.0) < 1e-3
    assert evidence[0].weight > 0.9


def test_no_segment_lowering_the_score_means_no_evidence() -> None:
    segments = [Segment("a", 0, 1), Segment("b", 2, 3)]
    assert attribute(segments, full_score=0.2, occluded_scores=[0.3, 0.25]) == []

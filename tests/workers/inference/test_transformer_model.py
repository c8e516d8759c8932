"""The shipped model, loaded for real: what a support lead would notice in its scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.domain import URGENCY_LEVELS
from workers.inference.artifacts_io import SHIPPED_DIR
from workers.inference.base import Classifier
from workers.inference.classify_file import score_lines
from workers.inference.transformer import TransformerClassifier

pytestmark = pytest.mark.model

ANGRY = "This is the third time I am writing. Your service is a disgrace and I am furious. Nobody helps!"
CALM = "Hello, could you tell me how to update the billing address on my account? Thank you."


def test_construction_is_cheap_and_loads_nothing() -> None:
    classifier = TransformerClassifier(SHIPPED_DIR, device="cpu")
    assert isinstance(classifier, Classifier)
    assert classifier._runtime is None  # the weights load in the worker process, on first predict


def test_angry_text_is_more_frustrated_than_calm_text(real_classifier: TransformerClassifier) -> None:
    angry, calm = real_classifier.predict([ANGRY, CALM])
    assert angry.frustration is not None and calm.frustration is not None
    assert angry.frustration.probability > calm.frustration.probability + 0.3
    assert angry.frustration.level != "none"
    assert calm.frustration.level == "none"
    assert "repeat_contact" in angry.reason_codes


def test_stolen_card_is_more_urgent_than_a_how_to_question(real_classifier: TransformerClassifier) -> None:
    stolen, question = real_classifier.predict(
        [
            "My card was stolen and someone is using it right now, please block it.",
            "Which currencies do you support?",
        ]
    )
    assert stolen.urgency is not None and question.urgency is not None
    assert stolen.urgency.level in ("high", "critical")
    assert question.urgency.level == "low"
    assert abs(sum(stolen.urgency.distribution.values()) - 1.0) < 1e-3
    assert stolen.urgency.probability == max(stolen.urgency.distribution.values())
    assert "security" in stolen.reason_codes


def test_unsupported_language_gets_no_score(real_classifier: TransformerClassifier) -> None:
    [german] = real_classifier.predict(
        ["Meine Karte wurde gestohlen und niemand antwortet auf meine E-Mails."]
    )
    assert german.supported is False
    assert german.frustration is None and german.urgency is None
    assert german.language == "de"
    assert german.reason_codes == ["unsupported_language"]


def test_evidence_points_at_the_angry_sentence(real_classifier: TransformerClassifier) -> None:
    text = (
        "I ordered a lamp on Monday. It was delivered today. "
        "Honestly this is pathetic, I am so angry with your useless company! The box is brown."
    )
    [scores] = real_classifier.predict([text])
    assert scores.frustration is not None
    top = scores.frustration.evidence[0]
    assert "angry" in top.text
    assert top.start is not None and text[top.start : top.end] == top.text


def test_html_and_quoted_history_do_not_change_the_scores(real_classifier: TransformerClassifier) -> None:
    plain, wrapped = real_classifier.predict(
        [CALM, f"<p>{CALM}</p><blockquote>You are all idiots, I hate this!!!</blockquote>"]
    )
    assert plain.frustration is not None and wrapped.frustration is not None
    assert wrapped.frustration.probability == pytest.approx(plain.frustration.probability, abs=1e-3)


def test_int8_agrees_with_fp32_on_dev_texts(real_classifier: TransformerClassifier) -> None:
    from workers.inference.runtime import InferenceRuntime
    from workers.training.data import DEFAULT_DATA_DIR, load_goemotions

    if not DEFAULT_DATA_DIR.is_dir():
        pytest.skip("../shared/data is not present")
    texts = [e.text for e in load_goemotions(DEFAULT_DATA_DIR, "dev")[:96]]
    int8 = real_classifier.runtime
    assert int8.precision == "int8"
    fp32 = InferenceRuntime.load(SHIPPED_DIR, device="cpu", precision="fp32", threads=1)
    calibration = real_classifier.calibration
    p_int8, _ = calibration.frustration(int8.logits(texts).frustration)
    p_fp32, _ = calibration.frustration(fp32.logits(texts).frustration)
    threshold = calibration.frustration_threshold
    assert np.mean((p_int8 >= threshold) == (p_fp32 >= threshold)) >= 0.95
    assert np.mean(np.abs(p_int8 - p_fp32)) < 0.03


def test_jsonl_lines_and_full_tickets_are_scored(real_classifier: TransformerClassifier) -> None:
    lines = [
        json.dumps({"id": "a", "text": ANGRY}),
        json.dumps({"id": "b", "messages": [{"body": "Where is my refund?"}, {"body": "Still nothing!!"}]}),
        "not json",
    ]
    first, second, broken = score_lines(real_classifier, lines)
    assert first["id"] == "a" and first["frustration"]["level"] != "none"
    assert second["id"] == "b" and second["history"]["customer_messages"] == 2
    assert second["urgency"]["level"] in URGENCY_LEVELS
    assert broken["line"] == 3 and "error" in broken


def test_stated_outage_lifts_urgency_to_at_least_high(real_classifier: TransformerClassifier) -> None:
    [scores] = real_classifier.predict(["Our production dashboard is down since 9am and nobody can log in."])
    assert "outage" in scores.reason_codes
    assert scores.urgency is not None and scores.urgency.level in ("high", "critical")
    assert scores.urgency.distribution["low"] == 0.0 and scores.urgency.distribution["normal"] == 0.0


def test_first_predict_uses_the_calibration_of_the_loaded_precision() -> None:
    from workers.inference.calibration import Calibration

    classifier = TransformerClassifier(SHIPPED_DIR, device="cpu", threads=1, evidence="none")
    [first] = classifier.predict([ANGRY])
    [second] = classifier.predict([ANGRY])
    assert classifier.calibration == Calibration.load(SHIPPED_DIR / "calibration.json", "int8")
    assert first.frustration is not None and second.frustration is not None
    assert first.frustration.probability == second.frustration.probability

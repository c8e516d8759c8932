"""Language gate: English is scored, other languages are refused, short texts are given the benefit."""

from __future__ import annotations

import pytest

from workers.inference.language import detect_language


@pytest.mark.parametrize(
    "text",
    ["Charged twice for my order", "My parcel never arrived and nobody answers", "Login fails again"],
)
def test_english_is_supported(text: str) -> None:
    verdict = detect_language(text)
    assert verdict.supported and verdict.language == "en"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Meine Karte wurde gestohlen, bitte sperren Sie sie sofort", "de"),
        ("Mi tarjeta fue robada ayer y nadie me responde", "es"),
        ("Ma carte a été volée hier soir, aidez-moi", "fr"),
    ],
)
def test_other_languages_are_refused(text: str, code: str) -> None:
    verdict = detect_language(text)
    assert verdict == type(verdict)(language=code, supported=False)


def test_too_short_to_judge_is_scored() -> None:
    assert detect_language("ok thanks").supported

"""Language gate: English is scored, other languages are refused, short texts are given the benefit."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.inference.language import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "Charged twice for my order",
        "My parcel never arrived and nobody answers",
        "Login fails again",
        "Thanks so much!",  # read as Spanish while the "!" counted
        "DONT LOSE MY LUGGAGE",  # all caps read as French before lower-casing
    ],
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


NON_ENGLISH = Path(__file__).resolve().parents[2] / "fixtures" / "languages" / "non_english.tsv"


def test_short_tickets_in_many_languages_are_refused() -> None:
    rows = [line.split("\t") for line in NON_ENGLISH.read_text().splitlines() if line.strip()]
    verdicts = [(code, detect_language(text)) for code, text in rows]

    let_through = [code for code, verdict in verdicts if verdict.supported]
    # One Indonesian sentence reads as English enough to be scored (docs/models.md); no other.
    assert let_through == ["id"]
    assert sum(verdict.language == code for code, verdict in verdicts) >= len(rows) - 3


@pytest.mark.parametrize(
    "text",
    ["我的银行卡昨天被偷了请马上冻结", "昨日カードを盗まれました。すぐに止めてください"],
)
def test_unspaced_scripts_are_judged_by_characters(text: str) -> None:
    assert not detect_language(text).supported


def test_the_detector_is_small() -> None:
    import os

    def rss_kb() -> int:
        status = Path(f"/proc/{os.getpid()}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])

    from workers.inference import language

    language._detector.cache_clear()
    before = rss_kb()
    detect_language("Where is my parcel? It should have arrived yesterday.")
    # lingua's preloaded models took 700 MB here; an inference process must fit in 600 MB in all.
    assert rss_kb() - before < 50_000

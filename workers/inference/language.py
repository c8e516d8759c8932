"""Detect a message's language with lingua, and say whether the model may score it."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

# all-MiniLM-L6-v2 was trained on English only; scoring other languages would give confident nonsense.
SUPPORTED_LANGUAGES = frozenset({"en"})
# Languages lingua tells apart. Support mail comes in many more; any of them still lands on a
# non-English guess and so is refused, which is the safe outcome.
CANDIDATE_LANGUAGES = (
    "ENGLISH", "GERMAN", "FRENCH", "SPANISH", "PORTUGUESE", "ITALIAN", "DUTCH", "POLISH", "SWEDISH",
    "DANISH", "BOKMAL", "FINNISH", "TURKISH", "RUSSIAN", "UKRAINIAN", "CZECH", "ROMANIAN", "HUNGARIAN",
    "GREEK", "ARABIC", "HEBREW", "HINDI", "CHINESE", "JAPANESE", "KOREAN", "INDONESIAN", "VIETNAMESE",
    "THAI", "CATALAN", "CROATIAN",
)  # fmt: skip
# Below this many words lingua's guesses are noise ("ok thanks"); such texts are scored as English.
MIN_WORDS_TO_JUDGE = 3
DETECTION_CHARS = 500
_WORD = re.compile(r"\w+", re.U)
# English within this fraction of the top language's confidence counts as English.
AMBIGUOUS_RATIO = 0.5
_lock = threading.Lock()


@dataclass(frozen=True)
class LanguageVerdict:
    """The detected language (ISO 639-1, or None when undecidable) and whether we score it."""

    language: str | None
    supported: bool


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in CANDIDATE_LANGUAGES]
    # Preloading costs a few seconds once per process; lazy loading instead stalled whichever request
    # first contained a new script or n-gram order, by seconds (measured in `triage model bench`).
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def detect_language(text: str) -> LanguageVerdict:
    """Return the language verdict for one cleaned message."""
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS_TO_JUDGE:
        return LanguageVerdict(language=None, supported=True)
    with _lock:
        # The opening of a message settles its language; reading all of a long one only costs time.
        ranked = _detector().compute_language_confidence_values(text[:DETECTION_CHARS])
    if not ranked or ranked[0].value <= 0.0:
        return LanguageVerdict(language=None, supported=True)
    top = ranked[0]
    code = top.language.iso_code_639_1.name.lower()
    if code in SUPPORTED_LANGUAGES:
        return LanguageVerdict(language=code, supported=True)
    english = next((c.value for c in ranked if c.language.name == "ENGLISH"), 0.0)
    # Short English often looks a little Danish or Dutch; refuse only when the other language
    # clearly wins, because refusing a customer's English message hides a real ticket.
    if english >= AMBIGUOUS_RATIO * top.value:
        return LanguageVerdict(language="en", supported=True)
    return LanguageVerdict(language=code, supported=False)


def detect_languages(texts: list[str]) -> list[LanguageVerdict]:
    """Return one verdict per text."""
    return [detect_language(text) for text in texts]

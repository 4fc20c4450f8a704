"""langdetect as the bot's French/English detector.

Only the French and English profiles are loaded, so every answer is a French/English split instead
of a guess among 55 languages (on short chat messages the full set often answers Slovak, Finnish
or Indonesian). The detector is seeded: langdetect samples n-grams at random, and unseeded it can
give different answers for the same short text. Profiles are read once per process and shared;
each call builds its own light Detector, so concurrent calls are safe.
"""

from __future__ import annotations

import functools
from pathlib import Path

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from bot.engine.language import SUPPORTED_LANGUAGES

SEED = 0
# A chat message never needs more; it bounds the time spent on a pasted wall of text.
MAX_TEXT_LENGTH = 2000


class FrenchEnglishDetector:
    """Implements bot.engine.language.LanguageDetector with langdetect restricted to fr and en."""

    def __init__(self) -> None:
        self._factory = _factory(SUPPORTED_LANGUAGES)

    def probabilities(self, text: str) -> dict[str, float]:
        found = _probabilities(self._factory, text)
        french = found.get("fr", 0.0)
        english = found.get("en", 0.0)
        # langdetect drops languages under 0.1; with two profiles the other one holds the rest.
        if not french and not english:
            return {}
        if not english:
            english = max(0.0, 1.0 - french)
        elif not french:
            french = max(0.0, 1.0 - english)
        total = french + english
        return {"fr": french / total, "en": english / total}


class AnyLanguageDetector:
    """langdetect with all of its 55 profiles, seeded: the plain detector, for comparison."""

    def __init__(self) -> None:
        self._factory = _factory(None)

    def best_language(self, text: str) -> str | None:
        """langdetect's most likely language code, or None when the text has nothing to judge."""
        found = _probabilities(self._factory, text)
        return max(found, key=found.__getitem__) if found else None


def _probabilities(factory: DetectorFactory, text: str) -> dict[str, float]:
    detector = factory.create()
    detector.set_max_text_length(MAX_TEXT_LENGTH)
    detector.append(text)
    try:
        return {found.lang: found.prob for found in detector.get_probabilities()}
    except LangDetectException:
        # Raised when the text has no letters langdetect knows: emoji, digits, punctuation.
        return {}


@functools.cache
def _factory(languages: tuple[str, ...] | None) -> DetectorFactory:
    factory = DetectorFactory()
    # Set on this factory, not on the DetectorFactory class, to leave other users untouched.
    factory.set_seed(SEED)
    if languages is None:
        factory.load_profile(PROFILES_DIRECTORY)
    else:
        profiles = Path(PROFILES_DIRECTORY)
        factory.load_json_profile(
            [(profiles / language).read_text(encoding="utf-8") for language in languages]
        )
    return factory

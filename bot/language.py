"""The reply-language policy wired to its detector (langdetect, restricted to French and English)."""

from __future__ import annotations

from functools import cache

from bot.engine.language import LanguageTurn, follow_language
from nlu.language_detection import FrenchEnglishDetector


@cache
def _detector() -> FrenchEnglishDetector:
    # Loading langdetect's profiles takes a moment: once per process.
    return FrenchEnglishDetector()


def choose_language(current: str | None, interface_language: str | None, text: str,
                    evidence: tuple[float, float], offered: bool) -> LanguageTurn:
    return follow_language(current, interface_language, text, evidence, _detector(), asked=offered)

"""The reply-language policy wired to its detector (langdetect, restricted to French and English)."""

from __future__ import annotations

from functools import cache

from bot.engine.language import choose_language as policy
from nlu.language_detection import FrenchEnglishDetector


@cache
def _detector() -> FrenchEnglishDetector:
    # Loading langdetect's profiles takes a moment: once per process.
    return FrenchEnglishDetector()


def choose_language(current: str | None, interface_language: str | None, text: str) -> str | None:
    return policy(current, interface_language, text, _detector()).language

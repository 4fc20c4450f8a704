"""The langdetect adapter, and the language policy running on it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langdetect.detector_factory import DetectorFactory

from bot.engine.language import Language, choose_language, supported_language
from nlu.language_detection import AnyLanguageDetector, FrenchEnglishDetector

CHAT_MESSAGES = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "chat_messages.tsv"

# Short texts on which unseeded langdetect gives a different answer from run to run.
AMBIGUOUS = ["ok cool", "bus", "on prend le bus", "stop stp", "nice", "grave", "bare expensive"]


def test_only_french_and_english_come_out() -> None:
    detector = FrenchEnglishDetector()
    for text in ["Ich weiß es nicht", "no sé nada", "ok", "the bus", "le bus"]:
        found = detector.probabilities(text)
        assert set(found) == {"fr", "en"}
        assert found["fr"] + found["en"] == pytest.approx(1)
    # Letters that neither French nor English uses give no evidence rather than a guess.
    assert detector.probabilities("Привет всем") == {}


def test_results_repeat_exactly_because_the_detector_is_seeded() -> None:
    first = [FrenchEnglishDetector().probabilities(text) for text in AMBIGUOUS]
    for _ in range(20):
        assert [FrenchEnglishDetector().probabilities(text) for text in AMBIGUOUS] == first


def test_seeding_leaves_langdetect_global_settings_alone() -> None:
    FrenchEnglishDetector().probabilities("bonjour")
    assert DetectorFactory.seed is None


@pytest.mark.parametrize("text", ["", "   ", "👍", "😂😂😂", "3", "4/5", "?!", "\x00\x07"])
def test_texts_without_letters_have_no_probabilities(text: str) -> None:
    assert FrenchEnglishDetector().probabilities(text) == {}
    assert AnyLanguageDetector().best_language(text) is None


def test_clear_sentences() -> None:
    detector = FrenchEnglishDetector()
    assert detector.probabilities("je ne sais pas quoi faire ce soir")["fr"] > 0.9
    assert detector.probabilities("I don't know what to do tonight")["en"] > 0.9


def test_the_plain_detector_answers_any_language() -> None:
    assert AnyLanguageDetector().best_language("Ich weiß nicht, was ich heute machen soll") == "de"


@settings(deadline=None)
@given(st.text(max_size=3000))
def test_any_text_gives_french_and_english_probabilities_or_none(text: str) -> None:
    found = FrenchEnglishDetector().probabilities(text)
    assert set(found) in ({"fr", "en"}, set())
    assert all(0 <= probability <= 1 for probability in found.values())


@pytest.mark.parametrize(
    ("current", "text", "expected"),
    [
        ("en", "franchement le parc est trop sale", "fr"),
        ("en", "on a besoin d'un terrain de basket", "fr"),
        ("en", "jsp trop, peut-être le soir", "fr"),
        ("en", "y'a jamais de place dans le bus", "fr"),
        ("fr", "the park near my school is always dirty", "en"),
        ("fr", "we need a basketball court", "en"),
        ("fr", "idk maybe in the evening", "en"),
        ("fr", "there's never any room on the bus", "en"),
        ("fr", "ok", "fr"),
        ("en", "oui", "en"),
        ("fr", "👍", "fr"),
        ("en", "merci", "en"),
        ("fr", "lol", "fr"),
    ],
)
def test_the_policy_on_langdetect(current: Language, text: str, expected: Language) -> None:
    decision = choose_language(current, current, text, FrenchEnglishDetector())
    assert decision.language == expected
    assert decision == choose_language(current, current, text, FrenchEnglishDetector())


def test_the_policy_meets_its_target_on_the_chat_set() -> None:
    with CHAT_MESSAGES.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) >= 150
    detector = FrenchEnglishDetector()
    right = 0
    for row in rows:
        current = None if row["current"] == "-" else row["current"]
        interface = None if row["interface"] == "-" else row["interface"]
        expected = None if row["expected"] == "ask" else row["expected"]
        assert current in (None, "fr", "en") and expected in (None, "fr", "en"), row
        decision = choose_language(current, interface, row["message"], detector)
        right += decision.language == expected
        if sum(any(char.isalpha() for char in token) for token in row["message"].split()) <= 1:
            assert not decision.switched, row
            in_force = supported_language(current) or supported_language(interface)
            assert in_force is None or decision.language == in_force, row
    assert right / len(rows) >= 0.9

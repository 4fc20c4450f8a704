"""Typed answers to button questions: labels, synonyms, positions and numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.matching import normalize, parse_number, read_choice
from bot.engine.survey import Option, Text

TRANSPORT = (
    Option("walk", Text("À pied", "On foot"), ("marche", "walk")),
    Option("bike", Text("Vélo ou trottinette", "Bike or scooter"), ("velo", "bike")),
    Option("bus", Text("Bus, tram ou métro", "Bus, tram or metro"), ("bus", "metro", "subway")),
)
ENOUGH = (
    Option("enough", Text("Oui, assez", "Yes, enough"), ("assez", "enough")),
    Option("too_few", Text("Pas assez", "Not enough"), ("pas assez", "not enough")),
)
words = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Nd", "Zs", "Po")), max_size=40)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("en bus", ["bus"]),
        ("Bus", ["bus"]),
        ("à PIED !", ["walk"]),
        ("a pied", ["walk"]),
        ("by subway mostly", ["bus"]),
        ("2", ["bike"]),
        ("vélo et métro", ["bike", "bus"]),
        ("en voiture", []),
        ("", []),
        ("4", []),
    ],
)
def test_typed_transport_answers(typed: str, expected: list[str]) -> None:
    assert list(read_choice(typed, TRANSPORT).chosen) == expected


def test_a_longer_match_of_another_option_wins() -> None:
    assert list(read_choice("pas assez", ENOUGH).chosen) == ["too_few"]
    assert list(read_choice("not enough tbh", ENOUGH).chosen) == ["too_few"]
    assert list(read_choice("assez oui", ENOUGH).chosen) == ["enough"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("12", 12.0), ("12,5", 12.5), ("about 4 days", 4.0), ("trois", 3.0), ("jamais", 0.0),
     ("3 or 4", None), ("beaucoup", None), ("-2", -2.0)],
)
def test_numbers(typed: str, expected: float | None) -> None:
    assert parse_number(typed) == expected


@given(words)
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(st.sampled_from(TRANSPORT), st.sampled_from(["fr", "en"]), st.sampled_from(["", "!", " ", "."]))
def test_a_label_typed_back_always_matches_its_option(option: Option, language: str, noise: str) -> None:
    typed = option.label.in_(language).upper() + noise
    assert list(read_choice(typed, TRANSPORT).chosen) == [option.id]


@given(words)
def test_matching_never_raises_and_only_names_known_options(text: str) -> None:
    assert set(list(read_choice(text, TRANSPORT).chosen)) <= {o.id for o in TRANSPORT}


@given(st.integers(min_value=-10_000, max_value=10_000))
def test_any_whole_number_is_read_back(value: int) -> None:
    assert parse_number(f"{value}") == value

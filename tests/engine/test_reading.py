"""Reading typed answers: number words, ages, yes and no, negations, hedges, non-answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.age import possible_ages
from bot.engine.cues import Answer, is_dont_know, yes_or_no
from bot.engine.matching import normalize, parse_number, read_choice
from bot.engine.numbers import find_numbers
from bot.engine.survey import Option, Text

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
FR_UNITS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
            "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit",
            "dix-neuf"]
FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
EN_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
            "eighteen", "nineteen"]
EN_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
           8: "eighty", 9: "ninety"}
PROBLEMS = (
    Option("price", Text("Le prix", "The cost"), ("prix", "cher", "cost", "expensive")),
    Option("night", Text("Rien le soir", "Nothing in the evening"), ("soir", "nuit", "night")),
    Option("safety", Text("Je ne me sens pas en sécurité", "I don't feel safe"),
           ("securite", "sécurité", "safety", "unsafe")),
)
TRANSPORT = (
    Option("walk", Text("À pied", "On foot"), ("marche", "walk")),
    Option("bus", Text("Bus, tram ou métro", "Bus, tram or metro"), ("bus", "metro", "tram")),
    Option("car", Text("Voiture", "Car"), ("voiture", "car")),
)
ENOUGH = (
    Option("enough", Text("Oui, assez", "Yes, enough"), ("assez", "enough")),
    Option("too_few", Text("Pas assez", "Not enough"), ("pas assez", "not enough")),
)


def french(n: int, belgian: bool = False) -> str:
    """An independent spelling of 0-99 in French (France, or Belgium and Switzerland)."""
    if n < 20:
        return FR_UNITS[n]
    tens, unit = divmod(n, 10)
    if belgian and tens >= 7:
        word = {7: "septante", 8: "huitante", 9: "nonante"}[tens]
        return word + ("" if unit == 0 else " et un" if unit == 1 else "-" + FR_UNITS[unit])
    if tens in {7, 9}:
        base = "soixante" if tens == 7 else "quatre-vingt"
        joiner = " et " if n == 71 else "-"
        return base + joiner + FR_UNITS[10 + unit]
    if tens == 8:
        return "quatre-vingts" if unit == 0 else "quatre-vingt-" + FR_UNITS[unit]
    word = FR_TENS[tens]
    return word + ("" if unit == 0 else " et un" if unit == 1 else "-" + FR_UNITS[unit])


def english(n: int) -> str:
    if n < 20:
        return EN_UNITS[n]
    tens, unit = divmod(n, 10)
    return EN_TENS[tens] + ("" if unit == 0 else "-" + EN_UNITS[unit])


@given(st.integers(min_value=0, max_value=99), st.booleans())
def test_every_french_number_word_is_read(n: int, belgian: bool) -> None:
    hits = find_numbers(normalize(french(n, belgian)).split())
    assert [h.value for h in hits] == [n]


@given(st.integers(min_value=0, max_value=99))
def test_every_english_number_word_is_read(n: int) -> None:
    hits = find_numbers(normalize(english(n)).split())
    assert [h.value for h in hits] == [n]


@given(st.integers(min_value=1, max_value=31))
def test_number_questions_read_words_in_both_languages(n: int) -> None:
    assert parse_number(french(n)) == n
    assert parse_number(english(n)) == n
    assert parse_number(f"genre {french(n)} fois") == n


@pytest.mark.parametrize(("typed", "expected"), [
    ("une dizaine de fois", 10.0), ("like twice", 2.0), ("jamais", 0.0), ("none", 0.0),
    ("4/5", 4.0), ("3 sur 5", 3.0), ("deux fois par semaine", None), ("every day", None),
    ("3 ou 4", None), ("pas souvent", None), ("the last one", None),
])
def test_number_answers(typed: str, expected: float | None) -> None:
    assert parse_number(typed) == expected


@pytest.mark.parametrize(("typed", "ages"), [
    ("vingt et un", (21,)), ("twenty-one", (21,)), ("j'ai seize ans", (16,)), ("septante", (70,)),
    ("née en 2010", (15, 16)), ("born 2008", (17, 18)), ("je suis né en 2004", (21, 22)),
    ("né le 12/05/2009", (16,)), ("bientôt 15 ans", (14,)), ("j'aurai 18 ans en mars", (17,)),
    ("I'll be 18 in March", (17,)), ("almost 18", (17,)), ("I'm 15, turning 16 next month", (15,)),
    ("jsuis en 3eme jai 14", (14,)), ("grade 10 and im 15", (15,)), ("16 yo", (16,)),
    # Not ages: asked again, never read as 'under 13'.
    ("none", ()), ("the last one", ()), ("un", ()), ("deux", ()), ("aucun", ()),
    ("vingt et trois", ()), ("maybe 17", ()), ("pas 15", ()), ("idk", ()),
])
def test_ages(typed: str, ages: tuple[int, ...]) -> None:
    assert possible_ages(typed, NOW) == ages


@given(st.integers(min_value=1950, max_value=2019))
def test_a_birth_year_gives_the_two_ages_it_allows(year: int) -> None:
    assert possible_ages(f"born in {year}", NOW) == (2026 - year - 1, 2026 - year)


@pytest.mark.parametrize(("typed", "expected"), [
    ("oui", Answer.YES), ("Oui, je suis d'accord", Answer.YES), ("no problem", Answer.YES),
    ("pas de souci", Answer.YES), ("bet", Answer.YES), ("tiguidou", Answer.YES),
    ("waaw", Answer.YES), ("yeah why not", Answer.YES), ("ok cool", Answer.YES),
    ("non", Answer.NO), ("No thanks", Answer.NO), ("Pas encore", Answer.NO),
    ("je suis pas d'accord", Answer.NO), ("not ok with that", Answer.NO),
    ("i don't agree", Answer.NO), ("je veux pas", Answer.NO),
    ("ok but who sees my answers?", Answer.QUESTION),
    ("oui mais vous gardez mon numéro ?", Answer.QUESTION), ("c'est anonyme ?", Answer.QUESTION),
    ("peut-être", Answer.UNCLEAR), ("i guess", Answer.UNCLEAR),
    ("ok mais je veux pas donner mon nom", Answer.UNCLEAR), ("yes no", Answer.UNCLEAR),
    ("hmm", Answer.UNCLEAR),
    ("no wahala", Answer.UNCLEAR), ("no stress", Answer.UNCLEAR), ("nah im good", Answer.UNCLEAR),
    ("no sorry", Answer.NO), ("non c'est non", Answer.NO), ("no i don't", Answer.NO),
])
def test_consent_answers(typed: str, expected: Answer) -> None:
    assert yes_or_no(typed, normalize(typed).split()) is expected


def test_a_plain_negative_sentence_is_a_no_only_where_no_harm_follows() -> None:
    words = normalize("il y en a pas").split()
    assert yes_or_no("il y en a pas", words) is Answer.UNCLEAR
    assert yes_or_no("il y en a pas", words, lenient=True) is Answer.NO


@given(st.sampled_from(["oui", "yes", "ok", "d'accord", "yeah", "sure"]),
       st.sampled_from(["pas", "not", "don't", "jamais"]))
def test_a_negated_yes_never_consents(yes: str, negation: str) -> None:
    typed = f"{negation} {yes}"
    assert yes_or_no(typed, normalize(typed).split()) is not Answer.YES


@pytest.mark.parametrize(("typed", "chosen", "negated"), [
    ("pas de problème de sécurité", (), ("safety",)),
    ("no safety problem", (), ("safety",)),
    ("je ne me sens pas en sécurité", ("safety",), ()),
    ("I don't feel safe", ("safety",), ()),
    ("le prix et la sécurité", ("price", "safety"), ()),
])
def test_negation_never_selects_an_option(typed: str, chosen: tuple[str, ...],
                                          negated: tuple[str, ...]) -> None:
    reading = read_choice(typed, PROBLEMS)
    assert (reading.chosen, reading.negated) == (chosen, negated)


@pytest.mark.parametrize(("typed", "chosen"), [
    ("pas de bus la nuit", ()), ("pas en bus, à pied", ("walk",)),
    ("je prends jamais le métro, je marche", ("walk",)), ("no car, i walk", ("walk",)),
    ("je marche pas", ()), ("not by bus", ()),
])
def test_a_negation_reaches_only_what_it_names(typed: str, chosen: tuple[str, ...]) -> None:
    assert read_choice(typed, TRANSPORT).chosen == chosen


def test_a_negated_option_is_read_as_its_opposite_when_there_is_one() -> None:
    assert read_choice("there aren't enough for us", ENOUGH).chosen == ("too_few",)


@given(st.sampled_from(TRANSPORT), st.sampled_from(["pas de", "pas en", "not by", "no", "jamais en"]),
       st.sampled_from(["fr", "en"]))
def test_a_negated_label_never_selects_its_option(option: Option, negation: str, language: str) -> None:
    typed = f"{negation} {option.label.in_(language)}"
    assert option.id not in read_choice(typed, TRANSPORT).chosen


def test_a_hedge_or_a_sentence_is_not_clear() -> None:
    assert read_choice("peut-être le prix", PROBLEMS).hedged
    assert not read_choice("les bus sont toujours en retard la nuit", PROBLEMS).clear
    assert read_choice("the cost and safety", PROBLEMS).clear


@pytest.mark.parametrize(("typed", "expected"), [
    ("jsp", True), ("idk", True), ("je sais pas", True), ("dunno lol", True), ("no idea", True),
    ("la gare le soir", False), ("je sais pas quoi dire mais le parc craint", False),
])
def test_dont_know(typed: str, expected: bool) -> None:
    assert is_dont_know(normalize(typed).split()) is expected


texts = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Nd", "Zs", "Po", "Pd", "So")),
                max_size=60)


@given(texts)
def test_readers_never_raise_and_stay_in_range(text: str) -> None:
    ages = possible_ages(text, NOW)
    assert all(6 <= age <= 99 for age in ages) and (not ages or max(ages) - min(ages) <= 1)
    reading = read_choice(text, TRANSPORT)
    assert set(reading.chosen) <= {o.id for o in TRANSPORT}
    assert not set(reading.chosen) & set(reading.negated)
    assert yes_or_no(text, normalize(text).split()) in set(Answer)


@given(texts, st.sampled_from(["oui", "yes", "ok", "d'accord"]))
def test_a_question_is_never_consent(text: str, yes: str) -> None:
    typed = f"{yes} {text} ?"
    assert yes_or_no(typed, normalize(typed).split()) is Answer.QUESTION

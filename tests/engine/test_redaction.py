"""Scrubbing personal details out of free text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.first_names import AMBIGUOUS_FIRST_NAMES, FIRST_NAMES
from bot.engine.redaction import scrub


@pytest.mark.parametrize(("text", "expected"), [
    ("appelle moi au 06 12 34 56 78 stp", "appelle moi au [phone] stp"),
    ("call +44 20 7946 0958 now", "call [phone] now"),
    ("mon cousin +221 77 123 45 67", "mon cousin [phone]"),
    ("écris à kevin.martin@gmail.com", "écris à [email]"),
    ("suis moi @lea_dsn", "suis moi [handle]"),
    ("mon snap c'est titou_69", "mon snap c'est [handle]"),
    ("voir https://www.instagram.com/moi.lyon", "voir [link]"),
    ("j'habite 12 rue de la République, bruyant", "j'habite [address], bruyant"),
    ("i live at 221 Baker Street now", "i live at [address] now"),
    ("le lycée Jean Moulin est loin", "le [school] est loin"),
    ("Westmount High School needs food", "[school] needs food"),
    ("moi c'est Inès et voilà", "moi c'est [name] et voilà"),
    ("la prof Mme Girard est super", "la prof [name] est super"),
    ("my name is Noah Williams, hi", "my name is [name], hi"),
    ("c'est Jean-Pierre Dupont qui crie", "c'est [name] qui crie"),
    ("mon pote jean-luc et Marie-Claire", "mon pote [name] et [name]"),
    ("Anne-Sophie me suit partout", "[name] me suit partout"),
    ("tell Paul and Luc", "tell [name] and [name]"),
    ("c'est Sarah qui m'a dit, juste Emma", "c'est [name] qui m'a dit, juste [name]"),
])
def test_personal_details_become_typed_placeholders(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "la ligne 86 passe toutes les 40 minutes",
    "le tram coûte 2,10 € c'est trop cher",
    "en 2024 le parc a fermé à 19h30",
    "le bus at 7:45 is always full, tickets $3.50",
    "à Montréal, au Plateau et à Saint-Michel",
    "la Guillotière et la Croix-Rousse",
    "rose et verte, la piscine",
    "métro Jean-Macé puis Jean-Jaurès, arrêt Saint-Jean",
    "rue Jean-Baptiste Say, à Pierre-Bénite",
])
def test_what_councils_need_stays(text: str) -> None:
    assert scrub(text) == text


@given(st.text(max_size=300))
def test_scrubbing_never_fails_and_is_stable(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once


@given(st.from_regex(r"0[67]( \d\d){4}", fullmatch=True), st.text(alphabet="abc ", max_size=20))
def test_french_mobiles_never_survive(number: str, words: str) -> None:
    assert not re.search(r"\d\d \d\d \d\d", scrub(f"{words} {number} {words}"))


@given(st.lists(st.sampled_from(sorted(FIRST_NAMES | AMBIGUOUS_FIRST_NAMES)), min_size=2, max_size=3),
       st.booleans())
def test_compound_first_names_never_survive(parts: list[str], capital: bool) -> None:
    name = "-".join(p.capitalize() if capital else p for p in parts)
    assert scrub(f"hier {name} m'a suivi") == "hier [name] m'a suivi"

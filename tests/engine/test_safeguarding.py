"""The disclosure detector: the issue's own examples, the lexicon's rules, its file errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.safeguarding import Category, Lexicon, LexiconError
from bot.lexicon import LEXICON_DIR, load_lexicon

LEXICON = load_lexicon()


@pytest.mark.parametrize(("text", "category"), [
    ("je veux mourir", Category.SELF_HARM),
    ("jveux disparaître", Category.SELF_HARM),
    ("JVEUX DISPARAITRE", Category.SELF_HARM),
    ("i just dont want to be here anymore", Category.SELF_HARM),
    ("my stepdad hits me", Category.ABUSE_AT_HOME),
    ("mon daron me frappe", Category.ABUSE_AT_HOME),
    ("someone online keeps asking me for nudes", Category.SEXUAL_ABUSE),
    ("on me force à vendre de la drogue", Category.EXPLOITATION),
    ("ils m'attendent à la sortie pour me frapper", Category.VIOLENCE_FROM_OTHERS),
    ("chu pu capable", Category.ACUTE_DISTRESS),
])
def test_disclosures_are_found_with_their_category(text: str, category: Category) -> None:
    found = LEXICON.detect(text)
    assert found is not None and category in found.categories


@pytest.mark.parametrize("text", [
    "ce bus me tue", "je suis mort de rire", "on s'est battus au foot", "this exam is killing me",
    "dead tired", "ma mère va me tuer si je rentre tard", "mon frère me bat toujours à fifa",
])
def test_benign_look_alikes_raise_nothing(text: str) -> None:
    assert LEXICON.detect(text) is None


def test_the_most_urgent_category_comes_first() -> None:
    found = LEXICON.detect("mon père me frappe et je veux mourir")
    assert found is not None
    assert found.category is Category.SELF_HARM
    assert Category.ABUSE_AT_HOME in found.categories


def test_every_category_has_entries_and_every_entry_a_source() -> None:
    assert {e.category for e in LEXICON.entries} == set(Category)
    assert all(source.strip() for source in LEXICON.sources())
    assert len(list(LEXICON_DIR.glob("*.yml"))) == 1 + len(Category)


def test_an_entry_without_source_is_refused_by_name() -> None:
    with pytest.raises(LexiconError, match=r"x\.yml: entries\[0\]: every entry says where"):
        Lexicon.from_yaml({"x.yml": "category: self_harm\nentries:\n  - {pattern: mourir}\n"})


@pytest.mark.parametrize(("text", "message"), [
    ("entries:\n  - {pattern: x, source: s, category: nope}\n", "unknown category 'nope'"),
    ("entries:\n  - {pattern: '(', source: s, category: self_harm}\n", "invalid pattern"),
    ("entries:\n  - {pattern: '{NOPE}', source: s, category: self_harm}\n", "unknown macro"),
    ("[1, 2]", "expected a mapping"),
    ("a: [", "invalid YAML"),
])
def test_faulty_lexicon_files_are_named(text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_yaml({"bad.yml": text})


@given(st.text(max_size=200))
def test_any_text_is_read_without_error(text: str) -> None:
    LEXICON.detect(text)

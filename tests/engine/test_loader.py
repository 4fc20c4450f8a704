"""Survey files: the example loads; every seeded mistake is named with its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.loader import SurveyError, load_survey
from bot.engine.survey import QuestionType

ROOT = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).parent / "data" / "broken_survey.yml"


def broken_text() -> str:
    # The over-long message is made here rather than stored: 4,100 characters of noise in the file.
    return BROKEN.read_text(encoding="utf-8").replace("LONG_TEXT", "x" * 4100)


def test_the_example_campaign_loads_with_every_question_type() -> None:
    survey = load_survey((ROOT / "surveys" / "my-city.yml").read_text(encoding="utf-8"), "my-city.yml")
    assert survey.id == "my-city"
    assert {q.type for q in survey.questions} == set(QuestionType)
    assert 8 <= len(survey.questions) <= 12


def test_a_dozen_seeded_mistakes_get_a_dozen_precise_messages() -> None:
    with pytest.raises(SurveyError) as caught:
        load_survey(broken_text(), "broken_survey.yml")
    found = [(p.line, p.field, p.message) for p in caught.value.problems]
    expected = [
        (3, "id", "'Broken Survey' is not a valid id"),
        (4, "version", "expected a whole number from 1"),
        (6, "title › en", "missing English translation"),
        (13, "colour", "unknown field"),
        (15, "question 1 › option 'walk' › next", "go-to 'nowhere' names no question"),
        (23, "question 1 › option 2 › id", "duplicate option id 'bus' (first at line 21)"),
        (26, "question 1 › option 3 › label › en", "missing English translation"),
        (30, "question 2 › id", "duplicate question id 'transport' (first at line 15)"),
        (34, "question 3 › type", "unknown type 'slider'"),
        (39, "question 4 › options", "a choice question needs a non-empty list of options"),
        (40, "question 5 › next", "points back to an earlier question or itself, which would loop"),
        (48, "question 6 › option 1 › id", "is 68 bytes, over Telegram's 64"),
        (50, "question 7 › show_if › question", "depends on 'later', which is not asked before it"),
        (56, "question 8 › min", "min 10 is above max 1"),
        (60, "question 8 › text › en", "message of 4146 characters is over Telegram's 4096"),
    ]
    assert len(found) == len(expected), "\n".join(map(str, found))
    for (line, field, message), (want_line, want_field, want_text) in zip(found, expected, strict=True):
        assert (line, field) == (want_line, want_field)
        assert want_text in message
    assert str(caught.value).startswith("broken_survey.yml:3: id: ")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("schema: 1\nid: [unclosed\n", 2, "[ ... ] that starts here is not closed"),
        ("- just\n- a list\n", 1, "expected a mapping, got a list"),
        ("", 1, "expected a mapping, got nothing"),
        ("schema: 1\nid: x\nid: y\n", 3, "duplicate key"),
    ],
)
def test_malformed_files_get_a_message_not_a_traceback(text: str, line: int, message: str) -> None:
    with pytest.raises(SurveyError) as caught:
        load_survey(text, "bad.yml")
    assert any(p.line == line and message in p.message for p in caught.value.problems), caught.value


def test_a_bare_yes_in_show_if_means_the_yes_option() -> None:
    text = (ROOT / "surveys" / "my-city.yml").read_text(encoding="utf-8").replace(
        'any_of: ["yes"]', "any_of: [yes]")
    survey = load_survey(text, "my-city.yml")
    condition = survey.questions[6].show_if
    assert condition is not None and condition.any_of == ("yes",)


@given(st.text(max_size=300))
def test_any_text_either_loads_or_raises_survey_error(text: str) -> None:
    try:
        load_survey(text, "fuzz.yml")
    except SurveyError as exc:
        assert exc.problems
        assert all(p.file == "fuzz.yml" and p.message for p in exc.problems)


REQUIRED = """\
schema: 1
id: required-test
version: 1
title: {fr: Test, en: Test}
intro: {fr: "INTRO_FR", en: "INTRO_EN"}
closing: {fr: Merci, en: Thanks}
questions:
  - id: idea
    type: text
    required: true
WHY
    text: {fr: "Une idée ?", en: "An idea?"}
"""
WHY = "    why: {fr: Sans réponse la mairie ne peut rien faire, en: The council can do nothing without it}"


def required_survey(intro_fr: str, intro_en: str, why: str) -> str:
    return (REQUIRED.replace("INTRO_FR", intro_fr).replace("INTRO_EN", intro_en)
            .replace("WHY\n", why + "\n" if why else ""))


def test_a_required_question_says_why() -> None:
    with pytest.raises(SurveyError) as caught:
        load_survey(required_survey("Deux minutes.", "Two minutes.", ""), "required.yml")
    assert [(p.line, p.field) for p in caught.value.problems] == [(10, "question 1 › required")]
    assert "needs `why`" in caught.value.problems[0].message
    survey = load_survey(required_survey("Deux minutes.", "Two minutes.", WHY), "required.yml")
    assert survey.questions[0].why is not None


@pytest.mark.parametrize(("intro_fr", "intro_en", "field"), [
    ("Tu peux passer une question quand tu veux.", "Two minutes.", "intro › fr"),
    ("Deux minutes.", "You can skip any question.", "intro › en"),
])
def test_the_intro_does_not_promise_a_skip_the_campaign_denies(intro_fr: str, intro_en: str,
                                                               field: str) -> None:
    with pytest.raises(SurveyError) as caught:
        load_survey(required_survey(intro_fr, intro_en, WHY), "required.yml")
    assert [(p.line, p.field) for p in caught.value.problems] == [(5, field)]
    assert "idea cannot" in caught.value.problems[0].message

"""The language policy, with stand-in detectors so that the words and rules are what is tested."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.engine.language import (
    NO_EVIDENCE,
    Language,
    LanguageDecision,
    LanguageTurn,
    Reason,
    choose_language,
    follow_language,
    supported_language,
)


class FixedDetector:
    """Gives the same answer for every text and remembers the texts it was shown."""

    def __init__(self, probabilities: Mapping[str, float]) -> None:
        self._probabilities = dict(probabilities)
        self.texts: list[str] = []

    def probabilities(self, text: str) -> Mapping[str, float]:
        self.texts.append(text)
        return self._probabilities


class LengthDetector:
    """A deterministic detector whose answer varies with the text."""

    def probabilities(self, text: str) -> Mapping[str, float]:
        french = (len(text) % 11) / 10
        return {"fr": french, "en": 1 - french}


def unsure() -> FixedDetector:
    return FixedDetector({})


def says_french() -> FixedDetector:
    return FixedDetector({"fr": 0.99, "en": 0.01})


def says_english() -> FixedDetector:
    return FixedDetector({"fr": 0.01, "en": 0.99})


LANGUAGE_CODES = [None, "", "fr", "fr-CA", "fr-BE", "en", "en-GB", "en-US", "de", "es", "pt-br"]

FRENCH_WORDS = ["je", "pas", "c'est", "merci", "avec", "jsp", "très", "ça", "vraiment", "nous"]
ENGLISH_WORDS = ["the", "you", "don't", "idk", "because", "what", "really", "we", "is", "pls"]

# Characters that are never letters: digits, "²", "½", punctuation, symbols, emoji, spaces,
# controls.
NOT_LETTERS = st.characters(codec="utf-8", categories=["N", "P", "S", "Z", "Cc", "Cf"])

# Timings vary with the load of the machine, not with the policy.
no_deadline = settings(deadline=None)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("fr_BE", "fr"),
        ("FR", "fr"),
        ("en", "en"),
        ("en-GB", "en"),
        (" en-us ", "en"),
        ("de", None),
        ("pt-br", None),
        ("french", None),
        ("", None),
        (None, None),
    ],
)
def test_supported_language_reads_the_primary_subtag(code: str | None, expected: str | None) -> None:
    assert supported_language(code) == expected


@pytest.mark.parametrize(
    "text",
    [
        "je sais pas trop",
        "c'est quoi ce truc",
        "y a rien à faire ici",
        "jsp mdr",
        "merci beaucoup",
        "ça me saoule grave",
        "tkt c'est bon",
        "JE SAIS PAS",
        "c\u2019est n\u2019importe quoi",
        "ouiii merciii",
        "j'suis d'acc",
    ],
)
def test_clear_french_switches_an_english_conversation(text: str) -> None:
    decision = choose_language("en", "en", text, unsure())
    assert decision == LanguageDecision("fr", switched=True, reason=Reason.MESSAGE_LANGUAGE)


@pytest.mark.parametrize(
    "text",
    [
        "i don't know",
        "what is this",
        "there's nothing to do here",
        "idk tbh",
        "thank you",
        "nothing to do lol",
        "don't wanna",
        "WHY NOT",
        "it\u2019s so boring",
    ],
)
def test_clear_english_switches_a_french_conversation(text: str) -> None:
    decision = choose_language("fr", "fr", text, unsure())
    assert decision == LanguageDecision("en", switched=True, reason=Reason.MESSAGE_LANGUAGE)


@pytest.mark.parametrize(
    "text",
    ["ok", "oui", "OUI", "👍", "😂😂", "lol ok", "ok merci", "16 ans", "d'accord", "peut-être",
     "hahaha", "merciii", "3", "4/5", "", "   ", "...", "bonjour ²", "xD ok 👍"],
)
@pytest.mark.parametrize("detector", [unsure(), says_french(), says_english()])
def test_short_or_neutral_messages_keep_the_conversation_language(
    text: str, detector: FixedDetector
) -> None:
    for language in ("fr", "en"):
        decision = choose_language(language, "de", text, detector)
        assert decision == LanguageDecision(language, switched=False, reason=Reason.SHORT_MESSAGE)


def test_without_a_conversation_language_the_interface_language_is_kept() -> None:
    assert choose_language(None, "fr-CA", "ok", unsure()) == LanguageDecision(
        "fr", switched=False, reason=Reason.SHORT_MESSAGE
    )
    # One word never overrides the interface language, even as the first message.
    assert choose_language(None, "en-GB", "salut", says_french()) == LanguageDecision(
        "en", switched=False, reason=Reason.SHORT_MESSAGE
    )
    assert choose_language(None, "en", "bonjour je veux répondre", unsure()) == LanguageDecision(
        "fr", switched=True, reason=Reason.MESSAGE_LANGUAGE
    )


def test_an_unsupported_conversation_language_falls_back_to_the_interface() -> None:
    assert choose_language("de", "fr", "ok", unsure()).language == "fr"


@pytest.mark.parametrize(
    ("interface", "text", "expected"),
    [
        (None, "bonjour", "fr"),
        ("de", "salut 👋", "fr"),
        (None, "hello", "en"),
        ("es", "hi there", "en"),
        ("de", "je suis nouveau ici", "fr"),
    ],
)
def test_with_no_language_known_one_clear_word_decides(
    interface: str | None, text: str, expected: Language
) -> None:
    assert choose_language(None, interface, text, unsure()) == LanguageDecision(
        expected, switched=False, reason=Reason.MESSAGE_LANGUAGE
    )


@pytest.mark.parametrize(
    ("interface", "text"),
    [(None, "ok"), ("de", "👍"), (None, ""), ("es", "hola"), ("de", "Hallo"), (None, "3")],
)
def test_with_no_language_known_and_nothing_to_go_on_the_user_is_asked(
    interface: str | None, text: str
) -> None:
    assert choose_language(None, interface, text, says_english()) == LanguageDecision(
        None, switched=False, reason=Reason.UNKNOWN
    )


@pytest.mark.parametrize(
    ("current", "text"),
    [
        ("fr", "jsp tbh"),
        ("fr", "the vibe est bizarre"),
        ("en", "idk franchement"),
        ("en", "Paris Lyon"),
    ],
)
def test_mixed_or_uninformative_messages_keep_the_language(current: Language, text: str) -> None:
    assert choose_language(current, current, text, unsure()) == LanguageDecision(
        current, switched=False, reason=Reason.UNCLEAR_MESSAGE
    )


def test_the_detector_alone_does_not_switch() -> None:
    decision = choose_language("fr", "fr", "totally agree", says_english())
    assert decision == LanguageDecision("fr", switched=False, reason=Reason.UNCLEAR_MESSAGE)


def test_the_detector_confirms_a_single_word_signal() -> None:
    assert choose_language("fr", "fr", "thanks mate", unsure()).language == "fr"
    assert choose_language("fr", "fr", "thanks mate", says_english()) == LanguageDecision(
        "en", switched=True, reason=Reason.MESSAGE_LANGUAGE
    )


def test_two_clear_words_outweigh_a_disagreeing_detector() -> None:
    assert choose_language("en", "en", "y a pas de bus", says_english()).language == "fr"


def test_a_hesitant_detector_does_not_vote() -> None:
    hesitant = FixedDetector({"fr": 0.8, "en": 0.2})
    assert choose_language("en", "en", "thanks mate", hesitant).language == "en"
    assert choose_language("en", "en", "merci mon pote", hesitant).language == "fr"
    assert choose_language("en", "en", "merci Bruno", hesitant).language == "en"


def test_names_inside_a_sentence_do_not_vote() -> None:
    # The accents of "Saint-Étienne" would otherwise count for French.
    decision = choose_language("en", "en", "going to Saint-Étienne", says_french())
    assert decision == LanguageDecision("en", switched=False, reason=Reason.MESSAGE_LANGUAGE)
    # Place names are also kept from the detector.
    detector = unsure()
    choose_language("en", "en", "we live in Montréal", detector)
    assert detector.texts == ["we live in"]


def test_the_detector_sees_only_lower_case_words() -> None:
    detector = unsure()
    choose_language("en", "en", "OK lol JE SUIS LÀ 👍 3", detector)
    assert detector.texts == ["je suis là"]


def test_the_detector_sees_at_most_two_hundred_words() -> None:
    detector = unsure()
    decision = choose_language("fr", "fr", "the bus is late " * 100_000, detector)
    assert decision.language == "en"
    assert [len(text.split()) for text in detector.texts] == [200]


@no_deadline
@given(
    current=st.sampled_from(LANGUAGE_CODES),
    interface=st.sampled_from(LANGUAGE_CODES),
    before=st.text(NOT_LETTERS, max_size=10),
    word=st.one_of(
        st.text(st.characters(codec="utf-8", categories=["L"]), min_size=1, max_size=20),
        st.sampled_from(FRENCH_WORDS + ENGLISH_WORDS + ["c'est", "peut-être", "aujourd'hui"]),
    ),
    after=st.text(NOT_LETTERS, max_size=10),
    french=st.floats(min_value=0, max_value=1),
)
def test_a_one_word_message_never_switches(
    current: str | None, interface: str | None, before: str, word: str, after: str, french: float
) -> None:
    detector = FixedDetector({"fr": french, "en": 1 - french})
    decision = choose_language(current, interface, before + word + after, detector)
    assert not decision.switched
    in_force = supported_language(current) or supported_language(interface)
    if in_force is not None:
        assert decision.language == in_force


@no_deadline
@given(
    words=st.lists(st.sampled_from(FRENCH_WORDS), min_size=2, max_size=6),
    french=st.floats(min_value=0, max_value=1),
)
def test_two_or_more_clear_french_words_always_switch_to_french(
    words: list[str], french: float
) -> None:
    detector = FixedDetector({"fr": french, "en": 1 - french})
    assert choose_language("en", "en", " ".join(words), detector).language == "fr"


@no_deadline
@given(
    words=st.lists(st.sampled_from(ENGLISH_WORDS), min_size=2, max_size=6),
    french=st.floats(min_value=0, max_value=1),
)
def test_two_or_more_clear_english_words_always_switch_to_english(
    words: list[str], french: float
) -> None:
    detector = FixedDetector({"fr": french, "en": 1 - french})
    assert choose_language("fr", "fr", " ".join(words), detector).language == "en"


@no_deadline
@given(
    current=st.sampled_from(LANGUAGE_CODES),
    interface=st.sampled_from(LANGUAGE_CODES),
    text=st.text(max_size=300),
)
def test_the_policy_is_deterministic(current: str | None, interface: str | None, text: str) -> None:
    first = choose_language(current, interface, text, LengthDetector())
    assert all(
        choose_language(current, interface, text, LengthDetector()) == first for _ in range(3)
    )


@no_deadline
@given(
    current=st.one_of(st.sampled_from(LANGUAGE_CODES), st.text(max_size=8)),
    interface=st.one_of(st.sampled_from(LANGUAGE_CODES), st.text(max_size=8)),
    text=st.one_of(
        st.text(),
        st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "So"])),
        st.text(min_size=5000, max_size=20_000),
    ),
    probabilities=st.dictionaries(
        st.sampled_from(["fr", "en", "de"]), st.floats(allow_nan=True, allow_infinity=True)
    ),
)
def test_any_text_and_any_detector_answer_give_a_coherent_decision(
    current: str, interface: str, text: str, probabilities: dict[str, float]
) -> None:
    decision = choose_language(current, interface, text, FixedDetector(probabilities))
    in_force = supported_language(current) or supported_language(interface)
    assert decision.language in ("fr", "en", None)
    assert (decision.language is None) == (decision.reason is Reason.UNKNOWN)
    if in_force is not None:
        assert decision.language is not None
    if decision.switched:
        assert in_force is not None and decision.language not in (None, in_force)


# -- across a conversation ---------------------------------------------------------------------


def replay(messages: list[str], interface: str, detector: FixedDetector | None = None,
           ) -> list[LanguageTurn]:
    """Each message's turn, carrying the language, the evidence and the offer as the bot does."""
    current: str | None = None
    evidence = NO_EVIDENCE
    asked = False
    turns = []
    for text in messages:
        turn = follow_language(current, interface, text, evidence, detector or unsure(), asked=asked)
        turns.append(turn)
        current = turn.decision.language or current
        evidence = turn.evidence
        asked = asked or turn.ask
    return turns


def test_a_run_of_short_french_messages_switches_after_the_second() -> None:
    turns = replay(["ok", "16", "jsp", "👍", "oui", "c bien"], "en")
    assert [t.decision.language for t in turns] == ["en", "en", "fr", "fr", "fr", "fr"]
    assert turns[2].decision == LanguageDecision("fr", switched=True,
                                                 reason=Reason.CONVERSATION_LANGUAGE)
    assert not any(t.ask for t in turns)


def test_once_the_person_has_written_one_short_word_alone_does_not_switch() -> None:
    turns = replay(["the bus is always late", "ouais"], "en")
    assert [t.decision.language for t in turns] == ["en", "en"]


def test_each_short_message_counts_less_as_others_follow() -> None:
    turns = replay(["jsp", "16", "nah", "yeah"], "fr")
    assert [t.evidence for t in turns] == [(2.0, 0.0), (2.0, 0.0), (1.6, 2.0), (1.28, 3.6)]


def test_mixed_messages_offer_the_choice_once() -> None:
    turns = replay(["hello", "merci", "thanks", "merci", "thanks", "merci"], "fr")
    assert turns[0].decision.language == "en"
    assert [t.ask for t in turns] == [False, True, False, False, False, False]
    assert turns[1].decision == LanguageDecision("en", switched=False,
                                                 reason=Reason.MIXED_EVIDENCE)


def test_one_clear_message_after_one_stray_word_switches_without_asking() -> None:
    turns = replay(["yes", "franchement y a rien a faire ici le soir"], "en")
    assert turns[1].decision.language == "fr" and not turns[1].ask


NEUTRAL = st.sampled_from(["ok", "Ok", "👍", "😂", "lol", "3", "16", "5/5", "...", "?", "haha",
                           "Bruno", "Lyon", "Part-Dieu", "xD", "ok ok", "NDG", "", "Montréal",
                           "Guillotière", "Genève", "Côte-des-Neiges"])


@no_deadline
@given(
    before=st.lists(st.sampled_from(FRENCH_WORDS + ENGLISH_WORDS + ["ok", "16"]), max_size=6),
    neutral=st.lists(NEUTRAL, min_size=1, max_size=6),
    interface=st.sampled_from(["fr", "en"]),
    detector=st.sampled_from([unsure(), says_french(), says_english()]),
)
def test_neutral_one_word_messages_never_switch(
    before: list[str], neutral: list[str], interface: str, detector: FixedDetector
) -> None:
    turns = replay(before + neutral, interface, detector)
    for turn in turns[len(before):]:
        assert not turn.decision.switched and not turn.ask

"""The offered choice of language: once, never over a disclosure, and it sticks like /language."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.engine import callbacks
from bot.engine.conversation import step
from bot.engine.messages import EventType, Inbound
from bot.engine.state import ConversationState, Phase
from bot.lexicon import load_lexicon
from tests.engine.test_required import context

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
ON_QUESTION = ConversationState(language="en", phase=Phase.SURVEY, age_band="15-17", city="lyon",
                                campaign="required-test", campaign_version=1, question="idea",
                                last_seen=NOW.isoformat())


def test_the_offer_adds_two_buttons_once_and_the_message_still_answers() -> None:
    offered = step(context(), ON_QUESTION, Inbound.text_message(
        "more buses at night merci", NOW, language_evidence=(2.0, 1.6), offer_language=True))
    assert [a.text for a in offered.answers] == ["more buses at night merci"]
    assert offered.has(EventType.LANGUAGE_OFFERED)
    assert [c.label for c in offered.outbound[-1].choices] == ["Français", "English"]
    assert offered.state.language_offered and offered.state.pending is None
    assert offered.state.language_evidence == (2.0, 1.6)
    again = step(context(), offered.state, Inbound.text_message("merci", NOW, offer_language=True))
    assert not again.has(EventType.LANGUAGE_OFFERED)


def test_a_language_picked_from_the_offer_sticks() -> None:
    offered = step(context(), ON_QUESTION, Inbound.text_message("merci", NOW, offer_language=True))
    picked = step(context(), offered.state, Inbound.button(callbacks.encode(callbacks.LANGUAGE, "fr"), NOW))
    assert picked.state.language == "fr" and picked.state.language_locked


def test_no_offer_over_a_disclosure() -> None:
    ctx = context()
    ctx = type(ctx)(ctx.community, ctx.campaigns, ctx.catalog, lexicon=load_lexicon())
    result = step(ctx, ON_QUESTION, Inbound.text_message(
        "i want to kill myself", NOW, offer_language=True))
    assert result.has(EventType.DISCLOSURE_DETECTED)
    assert not result.has(EventType.LANGUAGE_OFFERED) and not result.state.language_offered


def test_the_evidence_survives_a_round_trip_through_json() -> None:
    state = ON_QUESTION.evolve(language_evidence=(1.28, 3.6), language_offered=True)
    assert ConversationState.from_json(state.to_json()) == state
    older = {k: v for k, v in state.to_json().items() if k not in {"language_evidence", "language_offered"}}
    assert ConversationState.from_json(older).language_evidence == (0.0, 0.0)

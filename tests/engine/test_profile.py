"""/profile from wherever the participant is: what can change, what it triggers, where it returns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.campaigns import read_campaigns
from bot.config import load_config
from bot.engine.conversation import Context, step
from bot.engine.messages import EventType, Inbound, Step
from bot.engine.state import ConversationState, Phase
from bot.i18n import GettextCatalog

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def context() -> Context:
    config = load_config(ROOT / "config.yml")
    community = config.community()
    campaigns = tuple(survey for survey, _ in read_campaigns(config.campaigns, ROOT, community))
    return Context(community, campaigns, GettextCatalog())


def in_survey() -> ConversationState:
    return ConversationState(language="en", phase=Phase.SURVEY, age_band="15-17", city="lyon",
                             neighbourhood="vaise", campaign="my-city", campaign_version=2,
                             question="getting_around", last_seen=NOW.isoformat())


def say(state: ConversationState, *texts: str) -> tuple[ConversationState, Step]:
    result = None
    for text in texts:
        result = step(context(), state, Inbound.text_message(text, NOW))
        state = result.state
    assert result is not None
    return state, result


def test_profile_is_offered_only_once_someone_has_joined() -> None:
    state = ConversationState(language="en", phase=Phase.AGE, last_seen=NOW.isoformat())
    _, result = say(state, "/profile")
    assert result.outbound[0].text.startswith("You can change your age, city or neighbourhood once")
    assert result.outbound[1].text == "First, how old are you?"


def test_an_age_out_of_range_on_profile_ends_participation_like_onboarding() -> None:
    _, result = say(in_survey(), "/profile", "my age", "25 or older")
    assert result.has(EventType.NOT_ELIGIBLE)


def test_moving_to_a_city_we_do_not_serve_and_declining_stops_the_survey() -> None:
    state, result = say(in_survey(), "/profile", "my city", "another city")
    assert "no council will hear" in result.outbound[-1].text
    state, result = say(state, "no thanks")
    assert state.phase is Phase.IDLE and state.campaign is None and state.profile_edit is None
    state, result = say(state, "/start")
    assert "no council will hear" in result.outbound[-1].text


def test_an_unclear_choice_in_the_profile_menu_is_asked_again() -> None:
    state, result = say(in_survey(), "/profile", "hmm")
    assert state.profile_edit == "menu"
    assert result.has(EventType.INPUT_REJECTED)
    state, result = say(state, "nothing")
    assert state.profile_edit is None
    assert result.outbound[-1].text == "How do you usually get around town?"

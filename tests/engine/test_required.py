"""A required question cannot be skipped, and whoever tries is told why (the campaign's words)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.engine.community import AgeBand, City, Community
from bot.engine.conversation import Context, step
from bot.engine.loader import load_survey
from bot.engine.messages import EventType, Inbound
from bot.engine.state import ConversationState, Phase
from bot.engine.survey import Text

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
SURVEY = """\
schema: 1
id: required-test
version: 1
title: {fr: Test, en: Test}
intro: {fr: "Une question.", en: "One question."}
closing: {fr: Merci, en: Thanks}
questions:
  - id: idea
    type: text
    required: true
    why: {fr: "sans ton idée, rien ne change",
          en: "without your idea the council can change nothing"}
    text: {fr: "Une idée ?", en: "An idea?"}
"""


class Identity:
    def gettext(self, language: str, message: str) -> str:
        return message


def context() -> Context:
    community = Community(
        cities=(City("lyon", Text("Lyon", "Lyon"), ()),), age_bands=(AgeBand("15-17", 15, 17),),
        digital_consent_age=15, notice_version=1, privacy_contact="privacy@example.org")
    return Context(community, (load_survey(SURVEY, "required.yml"),), Identity())


def test_skip_on_a_required_question_says_why_and_keeps_asking() -> None:
    state = ConversationState(language="en", phase=Phase.SURVEY, age_band="15-17", city="lyon",
                              campaign="required-test", campaign_version=1, question="idea",
                              last_seen=NOW.isoformat())
    result = step(context(), state, Inbound.text_message("/skip", NOW))
    assert result.outbound[0].text == ("This question can't be skipped: without your idea the "
                                       "council can change nothing")
    assert result.outbound[1].text == "An idea?"
    assert not result.answers and not result.has(EventType.QUESTION_SKIPPED)
    dont_know = step(context(), state, Inbound.text_message("jsp", NOW))
    assert dont_know.outbound[0].text.startswith("This question can't be skipped")
    assert not dont_know.answers

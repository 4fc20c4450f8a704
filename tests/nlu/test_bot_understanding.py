"""The bot with the real Rasa server, and with the server gone: nothing typed is ever lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.collecting import CollectingChannel
from bot.engine.messages import EventType, Inbound
from bot.service import Turn
from bot.understanding import Understander, backfill
from nlu.client import SyncNluClient
from storage.models import Answer
from tests.support.rasa import unused_url

pytestmark = pytest.mark.rasa
ROOT = Path(__file__).resolve().parents[2]
# The open question asked when the evening feels unsafe (1 or 2 on the scale).
OPEN_QUESTION = ("On foot", "Nothing really", "Done ✔", "3", "1")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=5)
        return self.now


def make_app(tmp_path: Path, url: str) -> App:
    return build_app(ROOT / "config.yml", f"sqlite:///{tmp_path / 'nlu.db'}", clock=Clock(),
                     understand=Understander(url))


@pytest.fixture
async def app_with_rasa(tmp_path: Path, rasa_url: str) -> AsyncIterator[App]:
    app = make_app(tmp_path, rasa_url)
    yield app
    await app.service.aclose()
    app.close()


async def typed(app: App, user: str, text: str, language: str) -> Turn:
    inbound = Inbound.text_message(text, app.service.clock())
    return await app.service.handle_async("test", user, inbound, interface_language=language)


def onboard(channel: CollectingChannel, user: str, language: str, presses: tuple[str, ...]) -> None:
    channel.say(user, "/start", language)
    for label in presses:
        channel.press(user, label, language)


EN_ONBOARDING = ("18-20", "Yes, I agree", "Lyon", "Vaise")
FR_ONBOARDING = ("18-20", "Oui, je suis d'accord", "Lyon", "Vaise")


async def test_typed_stop_in_french_asks_to_confirm(app_with_rasa: App) -> None:
    channel = CollectingChannel(app_with_rasa.service)
    onboard(channel, "ines", "fr", FR_ONBOARDING)
    turn = await typed(app_with_rasa, "ines", "arrête de m'écrire stp", "fr")
    assert turn.outbound[0].text == "Veux-tu ne plus recevoir de messages de notre part ?"
    assert [c.label for c in turn.outbound[0].choices] == ["Oui, arrêter", "Non, on continue"]


async def test_typed_help_and_delete_in_english(app_with_rasa: App) -> None:
    channel = CollectingChannel(app_with_rasa.service)
    onboard(channel, "liam", "en", EN_ONBOARDING)
    help_turn = await typed(app_with_rasa, "liam", "how does this work? i'm lost", "en")
    assert help_turn.outbound[0].text.startswith("I ask you short questions about your city")
    delete_turn = await typed(app_with_rasa, "liam", "delete all my data please", "en")
    assert delete_turn.outbound[0].text.startswith("Delete everything we have about you")


async def test_open_answers_are_stored_with_their_topic(app_with_rasa: App) -> None:
    channel = CollectingChannel(app_with_rasa.service)
    onboard(channel, "maya", "en", EN_ONBOARDING)
    for label in OPEN_QUESTION:
        channel.press("maya", label, "en")
    turn = await typed(app_with_rasa, "maya",
                       "the park near my place is always dark at night and i get scared", "en")
    [answer] = turn.answers
    assert answer.question_id == "unsafe_places"
    assert answer.topic == "safety" and answer.topic_confidence is not None
    assert not answer.understanding_pending


async def test_with_the_nlu_down_buttons_work_and_free_text_waits(tmp_path: Path, rasa_url: str) -> None:
    app = make_app(tmp_path, unused_url())
    try:
        channel = CollectingChannel(app.service)
        onboard(channel, "noor", "en", EN_ONBOARDING)
        for label in OPEN_QUESTION:
            channel.press("noor", label, "en")
        turn = await typed(app, "noor", "the bus stop by the station has no light at all", "en")
        [answer] = turn.answers
        assert answer.understanding_pending and answer.topic is None
        assert any(e.type is EventType.QUESTION_ASKED for e in turn.events), "the conversation goes on"
        # Back up, the backfill reads what was typed meanwhile.
        with SyncNluClient(rasa_url) as client:
            assert backfill(app.sessions, client) == 1
        with app.sessions() as session:
            stored = session.scalars(select(Answer).where(Answer.question_id == "unsafe_places")).one()
        assert not stored.understanding_pending
        assert stored.topic in {"safety", "transport"}
    finally:
        await app.service.aclose()
        app.close()

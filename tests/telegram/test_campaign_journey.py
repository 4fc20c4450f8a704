"""A partner's campaign end to end over the Telegram emulator, in French and in English.

Publish; the running bot invites the young people of the city with Start / Not now; Start runs the
campaign at once; Not now is respected; the one reminder reaches only those who did not finish;
after closing, a late answer is told the campaign is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.broadcast import BroadcastSettings, Planner
from bot.campaign_cli import invitation_bot, shared_budget, telegram_broadcaster
from bot.campaigns import publish
from bot.channels.telegram import Delivery, TelegramChannel, build_application
from bot.channels.telegram_intake import serving
from bot.engine.loader import load_survey
from storage import campaign_store
from storage.models import Answer, Invitation
from tests.support.deployment import campaign_text, write_deployment
from tests.support.telegram import BotMessage, EmulatedBot, TelegramUser
from tests.telegram.test_bot import Chat, changed

pytestmark = pytest.mark.telegram
FAST = Delivery(attempts=5, first_backoff=0.05, max_backoff=0.2, tick=0.1)
NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 in Lyon

WORDS = {
    "fr": {"agree": "Oui, je suis d'accord", "none": "pas de questionnaire",
           "invited": "Un nouveau questionnaire pour toi : « Ton quartier »", "start": "Commencer ▶",
           "later": "Pas maintenant", "first": "Tu aimes ton quartier ?", "yes": "Oui",
           "second": "Que faudrait-il en plus ?", "parks": "Des parcs", "thanks": "Merci !",
           "put_off": "Pas de souci. Si tu changes d'avis, envoie /start.",
           "reminder": "Petit rappel : le questionnaire « Ton quartier » est toujours ouvert",
           "closed": "ce questionnaire est fermé"},
    "en": {"agree": "Yes, I agree", "none": "no survey for you",
           "invited": "New survey for you: “Your neighbourhood”", "start": "Start ▶",
           "later": "Not now", "first": "Do you like your neighbourhood?", "yes": "Yes",
           "second": "What does it need most?", "parks": "Parks", "thanks": "Thank you!",
           "put_off": "No problem. If you change your mind, send /start.",
           "reminder": "A reminder: the survey “Your neighbourhood” is still open",
           "closed": "this survey is closed"},
}


@dataclass
class Running:
    app: App
    clock: list[datetime]
    planner: Planner


@asynccontextmanager
async def bot_with_broadcasts(bot: EmulatedBot, tmp_path: Path) -> AsyncIterator[Running]:
    clock = [NOON]
    config = write_deployment(tmp_path, rate=100, seeds=False)
    app = build_app(config, f"sqlite:///{tmp_path / 'bot.db'}", clock=lambda: clock[0])
    app.catalogue.every = 0
    planner = Planner(app.sessions, app.config, app.catalogue, lambda: clock[0])
    channel = TelegramChannel(app.service, app.context.catalog, FAST)
    budget = shared_budget(app, bot.token)

    async def broadcast(_bot: object) -> None:
        async with invitation_bot(bot.token, bot.url) as sender:
            broadcaster = telegram_broadcaster(app, planner, sender, budget)
            broadcaster.settings = BroadcastSettings(plan_every=0.2, idle_pause=0.1)
            await broadcaster.run()

    channel.companions.append(broadcast)
    application = build_application(channel, bot.token, base_url=bot.url, budget=budget)
    try:
        async with serving(application, channel, None, poll_timeout=1):
            yield Running(app, clock, planner)
    finally:
        app.close()


async def onboard(chat: Chat, words: dict[str, str]) -> None:
    # The language is the one of the Telegram interface: no question about it.
    await chat.command("start", "")
    await chat.press("18-20", "")
    await chat.press(words["agree"], "")
    await chat.press("Lyon", "")
    await chat.press("Vaise", words["none"])


async def invitation(chat: Chat, words: dict[str, str], after: int = 0) -> BotMessage:
    message = await chat.expect(after, words["invited"])
    assert [b.text for b in message.buttons] == [words["start"], words["later"]]
    return message


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_partner_campaign_from_publishing_to_closing(language: str, telegram_bot: EmulatedBot,
                                                            tmp_path: Path) -> None:
    words = WORDS[language]
    finisher, putter_off, dropper = (Chat(telegram_bot.user(first_name=name, language_code=language))
                                     for name in ("Inès", "Malik", "Zoé"))
    outsider: TelegramUser = telegram_bot.user(first_name="Léa", language_code=language)
    async with bot_with_broadcasts(telegram_bot, tmp_path) as running:
        for chat in (finisher, putter_off, dropper):
            await onboard(chat, words)
        await Chat(outsider).command("start", "")  # never consents: never invited
        text = campaign_text(extra="reminder: 2 days\n")
        with running.app.sessions.begin() as session:
            publish(session, running.app.config,
                    load_survey(text, "c.yml", running.app.config.community()), text,
                    "maison-des-jeunes", NOON)

        # Start begins the campaign at once.
        message = await invitation(finisher, words)
        await finisher.user.press_button(message, words["start"])
        await finisher.expect(message.message_id, words["first"])
        await finisher.press(words["yes"], words["second"])
        await finisher.press(words["parks"], words["thanks"])

        # Not now is respected: nothing starts, even when they write later.
        message = await invitation(putter_off, words)
        await putter_off.user.press_button(message, words["later"])
        await putter_off.expect(message.message_id, words["put_off"])
        await putter_off.say("ok", words["none"])

        # Started, not finished.
        message = await invitation(dropper, words)
        await dropper.user.press_button(message, words["start"])
        question = await dropper.expect(message.message_id, words["first"])

        assert not [m for m in await outsider.messages() if words["invited"] in (m.text or "")]

        # Two days later: the reminder reaches the two who did not finish, and only them.
        latest = {chat: await chat.latest() for chat in (finisher, putter_off, dropper)}
        running.clock[0] = NOON + timedelta(days=2, minutes=5)
        for chat in (putter_off, dropper):
            reminder = await chat.expect(latest[chat], words["reminder"])
            assert [b.text for b in reminder.buttons] == [words["start"], words["later"]]
        with running.app.sessions() as session:
            reminders = session.scalar(select(func.count()).select_from(Invitation)
                                       .where(Invitation.kind == "reminder"))
        assert reminders == 2
        assert not [m for m in await finisher.user.messages()
                    if changed(m, latest[finisher]) and words["reminder"] in (m.text or "")]

        # Closed: a late answer is thanked, not kept.
        with running.app.sessions.begin() as session:
            campaign_store.close_run(session, "quartier", running.clock[0])
        after = await dropper.latest()
        await dropper.user.press_button(question, words["yes"])
        await dropper.expect(after, words["closed"])
        with running.app.sessions() as session:
            kept = session.scalar(select(func.count()).select_from(Answer))
        assert kept == 2  # the finisher's two answers only

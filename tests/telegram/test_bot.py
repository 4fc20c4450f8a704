"""The YouthVoice bot on Telegram, end to end: python-telegram-bot 22 against the emulator over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from telegram import Bot, Update

from bot import service as service_module
from bot.app import App, build_app
from bot.channels.spool import Kept, Spool
from bot.channels.telegram import Delivery, Merge, TelegramChannel, build_application
from bot.channels.telegram_intake import Webhook, serving
from bot.engine.conversation import Context, step
from bot.engine.messages import Inbound, Step
from bot.engine.state import ConversationState
from bot.rate_budget import RateBudget
from storage.models import Answer, ChannelIdentity, Participant, PendingReply
from tests.support.postgres import running_postgres
from tests.support.telegram import (
    SECRET,
    AnyApplication,
    BotMessage,
    EmulatedBot,
    Mode,
    TelegramUser,
    free_port,
    without_buttons,
)

pytestmark = pytest.mark.telegram
ROOT = Path(__file__).resolve().parents[2]
FAST = Delivery(attempts=5, first_backoff=0.05, max_backoff=0.2, tick=0.1, merge=Merge.NEVER)


@dataclass
class Harness:
    app: App
    application: AnyApplication
    bot: EmulatedBot
    channel: TelegramChannel

    def count(self, model: type) -> int:
        with self.app.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def participant(self, user: TelegramUser) -> Participant:
        with self.app.sessions() as session:
            participant = session.scalars(
                select(Participant).join(ChannelIdentity).where(
                    ChannelIdentity.external_id == str(user.chat_id))).one()
            session.expunge(participant)
            return participant

    def pending_attempts(self) -> list[int]:
        with self.app.sessions() as session:
            return list(session.scalars(select(PendingReply.attempts)).all())

    async def take(self, update: Update) -> None:
        """An update handed to the bot directly, as if Telegram had sent it."""
        async with self.channel.chats.chat(update.effective_chat.id if update.effective_chat else 0):
            await self.channel.handle_update(update, self.application.bot)

    def answers(self, user: TelegramUser) -> dict[str, object]:
        with self.app.sessions() as session:
            rows = session.scalars(
                select(Answer).where(Answer.participant_id == self.participant(user).id)).all()
            return {a.question_id: a.option_ids or a.number or a.text or "skipped" for a in rows}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'bot.db'}"


@asynccontextmanager
async def youthvoice(bot: EmulatedBot, database: str, mode: Mode = "polling",
                     port: int | None = None, spool: Path | None = None,
                     delivery: Delivery = FAST) -> AsyncIterator[Harness]:
    app = build_app(ROOT / "config.yml", database)
    channel = TelegramChannel(app.service, app.context.catalog, delivery,
                              Spool(spool) if spool is not None else None)
    application = build_application(channel, bot.token, base_url=bot.url)
    webhook = None
    if mode == "webhook":
        port = port or free_port()
        webhook = Webhook("127.0.0.1", port, "telegram", SECRET, f"http://127.0.0.1:{port}/telegram")
    try:
        async with serving(application, channel, webhook, poll_timeout=1):
            yield Harness(app, application, bot, channel)
    finally:
        app.close()


async def until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# What a chat showed at one moment: each message id and how many versions (edits) it had.
Seen = dict[int, int]


def seen(messages: list[BotMessage]) -> Seen:
    return {m.message_id: len(m.versions) for m in messages}


def changed(message: BotMessage, since: int | Seen) -> bool:
    if isinstance(since, int):
        return message.message_id > since
    return len(message.versions) > since.get(message.message_id, 0)


class Chat:
    """A participant's side of the conversation, step by step, waiting for each reply."""

    def __init__(self, user: TelegramUser) -> None:
        self.user = user

    async def latest(self) -> Seen:
        return seen(await self.user.messages())

    async def expect(self, after: int | Seen, text: str) -> BotMessage:
        """A reply containing ``text``: a message after ``after``, or one edited since (a question
        the bot merged into the pressed message)."""
        def found(messages: list[BotMessage]) -> BotMessage | None:
            return next((m for m in messages if changed(m, after) and text in (m.text or "")), None)

        return await self.user.wait_until(found, timeout=10, what=f"a reply containing {text!r}")

    async def with_button(self, label: str) -> BotMessage:
        def found(messages: list[BotMessage]) -> BotMessage | None:
            shown = [m for m in messages if m.buttons]
            latest = shown[-1] if shown else None
            return latest if latest and any(b.text == label for b in latest.buttons) else None

        return await self.user.wait_until(found, timeout=10, what=f"a button {label!r}")

    async def command(self, name: str, expect: str) -> BotMessage:
        after = await self.latest()
        await self.user.send_command(name)
        return await self.expect(after, expect)

    async def say(self, text: str, expect: str) -> BotMessage:
        after = await self.latest()
        await self.user.send_text(text)
        return await self.expect(after, expect)

    async def press(self, label: str, expect: str) -> BotMessage:
        after = await self.latest()
        question = await self.with_button(label)
        await self.user.press_button(question, label)
        return await self.expect(after, expect)

    async def toggle(self, label: str) -> None:
        question = await self.with_button(label)
        await self.user.press_button(question, label)
        await self.with_button(f"✅ {label}")


async def onboard(chat: Chat, language: str) -> None:
    if language == "fr":
        await chat.command("start", "quel âge as-tu")
        await chat.press("18-20", "Es-tu d'accord pour participer")
        await chat.press("Oui, je suis d'accord", "Dans quelle ville")
        await chat.press("Lyon", "quel quartier")
        await chat.press("Croix-Rousse", "Comment te déplaces-tu")
    else:
        await chat.command("start", "how old are you")
        await chat.press("21-24", "Do you agree to take part")
        await chat.press("Yes, I agree", "Which city")
        await chat.press("Montreal", "which neighbourhood")
        await chat.press("Verdun", "How do you usually get around")


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_french_participant_answers_the_whole_campaign(
        mode: Mode, telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(first_name="Inès", language_code="fr")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database, mode) as bot:
        await onboard(chat, "fr")
        question = await chat.with_button("Bus, tram ou métro")
        await chat.press("Bus, tram ou métro", "Qu'est-ce qui te gêne")
        edited = await user.wait_for_edit(question)
        assert edited.text is not None and edited.text.endswith("✓ Bus, tram ou métro")
        assert edited.keyboard == ()
        await chat.toggle("Le prix")
        await chat.toggle("Rien le soir")
        await chat.press("Valider ✔", "le jour, tu te sens en sécurité")
        await chat.say("4", "Et le soir")
        await chat.press("2", "Où ou quand ne te sens-tu pas en sécurité")
        await chat.say("Le soir vers la gare, c'est pas éclairé", "parc ou un espace vert")
        await chat.say("ouais", "Combien de jours par mois")
        await chat.say("12", "assez de lieux pour les jeunes")
        await chat.press("Pas assez", "Lesquels utilises-tu")
        await chat.say("sport et bibliothèque", "changer une seule chose")
        await chat.say("Des bus la nuit et un skatepark couvert", "Merci ! Tes réponses")
        assert bot.answers(user) == {
            "getting_around": ["bus"], "transport_problem": ["price", "night"], "safety_day": ["4"],
            "safety_night": ["2"], "unsafe_places": "Le soir vers la gare, c'est pas éclairé",
            "green_spaces": ["yes"], "green_visits": 12.0, "youth_places": ["too_few"],
            "youth_places_kind": ["sport", "culture"],
            "change_first": "Des bus la nuit et un skatepark couvert",
        }
    answered = await telegram_bot.calls("answerCallbackQuery")
    presses = [c for c in await telegram_bot.calls() if c.method == "answerCallbackQuery"]
    assert answered == presses and len(answered) >= 9


async def test_an_english_participant_types_answers(telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(first_name="Liam", language_code="en-GB")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "en")
        await chat.say("by subway mostly", "What gets in your way")
        await chat.say("the cost and no bike lanes", "during the day")
        await chat.say("5", "And in the evening")
        await chat.say("3", "Is there a park")
        await chat.say("nope", "enough places for young people")
        await chat.say("none", "change one thing")
        await chat.say("A youth centre that stays open late", "Thank you!")
        assert bot.answers(user)["getting_around"] == ["bus"]
        assert bot.answers(user)["transport_problem"] == ["price", "bike_lanes"]
        assert bot.participant(user).language == "en"


async def test_language_stop_start_and_delete(telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="fr")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "fr")
        await chat.command("language", "Quelle langue préfères-tu ?")
        await chat.press("English", "How do you usually get around")
        await chat.press("On foot", "What gets in your way")
        await chat.command("stop", "you will get no more messages")
        assert bot.participant(user).stopped_at is not None
        await chat.say("hello?", "You have stopped messages from us")
        await chat.command("start", "Welcome back")
        assert bot.participant(user).stopped_at is None
        await chat.command("delete", "Delete everything we have about you")
        await chat.press("Yes, delete everything", "everything we had about you is deleted")
        assert bot.count(Participant) == 0
        assert bot.count(Answer) == 0


async def test_a_forged_or_stale_button_changes_nothing(telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "en")
        earlier = await chat.with_button("On foot")
        # Answered by typing, the question loses its buttons; a press an app had already sent
        # (or a worker that did not see the question go) is out of date.
        await chat.say("on foot", "What gets in your way")
        question = await chat.with_button("The cost")
        await user.wait_until(lambda ms: all(not m.buttons for m in ms if m.message_id == earlier.message_id),
                              what="the answered question to lose its buttons")
        # A modified client can send any data with a press: Telegram passes it on unchecked.
        for update_id, data in enumerate(["q:my-city:getting_around:bike",
                                          "q:other-campaign:getting_around:walk", "\x00garbage" * 3]):
            forged = Update.de_json({
                "update_id": 800_000 + update_id,
                "callback_query": {
                    "id": f"forged-{update_id}", "chat_instance": "1", "data": data,
                    "from": user.as_telegram_user(),
                    "message": (earlier if update_id == 0 else question).raw},
            }, bot.application.bot)
            before = await chat.latest()
            await bot.take(forged)
            said = await chat.expect(before, ["That button belongs to an earlier message",
                                              "Here is where we are", "could not read"][update_id])
            await chat.expect(said.message_id, "What gets in your way")
        assert bot.answers(user) == {"getting_around": ["walk"]}
        await chat.toggle("The cost")
        await chat.press("Done ✔", "during the day")
        assert bot.answers(user) == {"getting_around": ["walk"], "transport_problem": ["price"]}


async def test_commands_are_registered_in_french_and_english(telegram_bot: EmulatedBot,
                                                             database: str) -> None:
    async with youthvoice(telegram_bot, database), Bot(telegram_bot.token,
                                                      base_url=telegram_bot.base_url) as api:
        french = {c.command: c.description for c in await api.get_my_commands(language_code="fr")}
        english = {c.command: c.description for c in await api.get_my_commands(language_code="en")}
        default = await api.get_my_commands()
    assert set(french) == set(english) == {"start", "help", "language", "profile", "mydata",
                                           "privacy", "stop", "delete"}
    assert french["delete"] == "Effacer tout ce qui te concerne"
    assert english["delete"] == "Erase everything about you"
    assert [c.description for c in default] == list(french.values())


async def test_what_the_bot_cannot_read_gets_a_polite_reply(telegram_bot: EmulatedBot,
                                                            database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "en")
        sends: list[Callable[[], Awaitable[int]]] = [
            user.send_sticker, user.send_photo, lambda: user.send_location(45.76, 4.83)]
        for send in sends:
            before = await chat.latest()
            await send()
            await chat.expect(before, "I can only read text and buttons for now")
        before = await chat.latest()
        await chat.user.send_text("x" * 4000)
        await chat.expect(before, "Sorry, I didn't get that")
        edited = Update.de_json({
            "update_id": 900_001,
            "edited_message": {
                "message_id": 1, "date": 1_760_000_000, "edit_date": 1_760_000_100, "text": "bus",
                "chat": {"id": user.chat_id, "type": "private", "first_name": "Camille"},
                "from": user.as_telegram_user()},
        }, bot.application.bot)
        before = await chat.latest()
        await bot.take(edited)
        await chat.expect(before, "I can't take edited messages into account")
        group = Update.de_json({
            "update_id": 900_002,
            "message": {
                "message_id": 2, "date": 1_760_000_000, "text": "/start",
                "chat": {"id": -100_555, "type": "supergroup", "title": "Class 3B"},
                "from": user.as_telegram_user()},
        }, bot.application.bot)
        await bot.take(group)
        assert await telegram_bot.sent_messages(-100_555) == []
        assert bot.count(Participant) == 1


async def test_fifty_participants_at_once(telegram_bot: EmulatedBot, database: str) -> None:
    users = [telegram_bot.user(first_name=f"P{i}", language_code="fr" if i % 2 else "en")
             for i in range(50)]
    async with youthvoice(telegram_bot, database) as bot:
        async def journey(user: TelegramUser) -> None:
            chat = Chat(user)
            await onboard(chat, user.language_code or "en")
            label = "À pied" if user.language_code == "fr" else "On foot"
            await chat.press(label, "?")

        await asyncio.gather(*(journey(u) for u in users))
        assert bot.count(Participant) == 50
        assert bot.count(Answer) == 50
    failed = [c for c in await telegram_bot.calls() if c.status is not None and c.status >= 400]
    assert failed == []


async def test_flood_limits_are_waited_out_and_nothing_is_lost(telegram_bot: EmulatedBot,
                                                               database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database):
        await onboard(chat, "en")
        await telegram_bot.inject_failure("flood", chat_id=user.chat_id, times=1, retry_after=1)
        await chat.press("On foot", "What gets in your way")
        await telegram_bot.inject_failure("drop", chat_id=user.chat_id, times=2)
        await chat.press("Done ✔", "Choose at least one option")
    statuses = [c.status for c in await telegram_bot.calls("sendMessage")]
    assert 429 in statuses


async def test_a_reply_that_cannot_go_out_now_is_delivered_later(telegram_bot: EmulatedBot,
                                                                  database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        bot.app.service.outbox.first_retry = timedelta(milliseconds=300)
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
        await telegram_bot.inject_failure("drop", chat_id=user.chat_id, times=None)
        await telegram_bot.inject_failure("drop", method="editMessageText", chat_id=user.chat_id,
                                          times=None)
        await user.press_button(question, "On foot")
        await until(lambda: bot.pending_attempts() >= [1], "the reply to wait for another try")
        assert bot.answers(user) == {"getting_around": ["walk"]}
        await telegram_bot.clear_failures()
        await chat.expect(question.message_id, "What gets in your way")
        acknowledged = await user.wait_for_edit(question)
        assert acknowledged.text is not None and acknowledged.text.endswith("✓ On foot")
        await until(lambda: bot.count(PendingReply) == 0, "the delivered reply to be cleared")
    sent = [m for m in await user.messages() if "What gets in your way" in (m.text or "")]
    assert len(sent) == 1


async def test_a_reply_still_waiting_at_shutdown_goes_out_after_a_restart(
        telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="fr")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "fr")
        question = await chat.with_button("À pied")
        await telegram_bot.inject_failure("drop", chat_id=user.chat_id, times=None)
        await user.press_button(question, "À pied")
        await until(lambda: bot.pending_attempts() >= [1], "the reply to wait for another try")
    await telegram_bot.clear_failures()
    async with youthvoice(telegram_bot, database) as bot:
        bot.app.service.outbox.first_retry = timedelta(0)
        # Its pause was set by the stopped worker; a restarted one honours it, then delivers.
        with bot.app.sessions.begin() as session:
            session.execute(update(PendingReply).values(due_at=datetime.now(UTC)))
        await chat.expect(question.message_id, "Qu'est-ce qui te gêne")
        await until(lambda: bot.count(PendingReply) == 0, "the delivered reply to be cleared")


async def test_a_dead_workers_reply_is_taken_over_within_fifteen_seconds(
        telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database):
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
    # A worker stored this turn and its reply, then died before sending it: nobody renews its lease.
    app = build_app(ROOT / "config.yml", database)
    try:
        app.service.handle("telegram", str(user.chat_id),
                           Inbound.button(question.button("On foot").callback_data or "",
                                          datetime.now(UTC)),
                           message_key="died-with-it",
                           keep_reply={"pressed": question.message_id, "pressed_text": question.text})
    finally:
        app.close()
    died = asyncio.get_running_loop().time()
    # Another worker with the production rounds (idle ones look for others' work only now and then).
    async with youthvoice(telegram_bot, database, delivery=Delivery(merge=Merge.NEVER)):
        await user.wait_until(
            lambda messages: next((m for m in messages if m.message_id > question.message_id
                                   and "What gets in your way" in (m.text or "")), None),
            timeout=20, what="the dead worker's reply")
        assert asyncio.get_running_loop().time() - died <= 15


async def test_a_newer_reply_replaces_one_still_waiting(telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        bot.app.service.outbox.first_retry = timedelta(seconds=30)
        await onboard(chat, "en")
        await telegram_bot.inject_failure("drop", chat_id=user.chat_id, times=5)
        await user.send_command("help")
        await until(lambda: bot.pending_attempts() >= [1], "the help text to wait for another try")
        await chat.command("mydata", "Here is everything we keep about you")
        await until(lambda: bot.count(PendingReply) == 0, "the delivered reply to be cleared")
        await asyncio.sleep(0.5)
    # The help text would now arrive after the answer to a later message: it was dropped instead.
    assert not [m for m in await user.messages() if "I ask you short questions" in (m.text or "")]


OUTAGE = {
    "fr": ("À pied", "ton message est en sécurité", "Qu'est-ce qui te gêne",
           "Je te pose de courtes questions"),
    "en": ("On foot", "your message is safe", "What gets in your way", "I ask you short questions"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("language", ["fr", "en"])
async def test_while_the_database_is_down_messages_wait_on_disk(language: str, telegram_bot: EmulatedBot,
                                                                 tmp_path: Path) -> None:
    walk, safe, next_question, help_text = OUTAGE[language]
    user = telegram_bot.user(language_code=language)
    chat = Chat(user)
    with running_postgres() as server:
        database = server.create_database("outage")
        async with youthvoice(telegram_bot, database, spool=tmp_path / "spool") as bot:
            await onboard(chat, language)
            server.stop()
            await chat.press(walk, safe)
            # A later message of the same chat queues behind the first instead of overtaking it.
            await user.send_command("help")
            spool = bot.channel.spool
            assert spool is not None
            await until(lambda: len(spool.stalled()) == 2, "both messages to wait on disk")
            server.start()
            await chat.expect(0, help_text)
            await until(lambda: len(spool) == 0, "the spool to empty")
            assert bot.answers(user) == {"getting_around": ["walk"]}
    texts = [m.text or "" for m in await user.messages()]
    order = [next(i for i, t in enumerate(texts) if part in t) for part in (safe, next_question, help_text)]
    assert order == sorted(order)
    assert sum(safe in t for t in texts) == 1


def text_update(update_id: int, user: TelegramUser, text: str) -> dict[str, object]:
    sender = user.as_telegram_user()
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": text, "from": sender,
        "chat": {"id": user.chat_id, "type": "private", "first_name": sender["first_name"]}}}


async def test_an_update_that_fails_for_a_bug_is_answered_and_never_retried(
        telegram_bot: EmulatedBot, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)

    def faulty(context: Context, state: ConversationState, inbound: Inbound) -> Step:
        if inbound.text == "boom":
            raise RuntimeError("a bug in the engine")
        return step(context, state, inbound)

    async with youthvoice(telegram_bot, database, spool=tmp_path / "spool") as bot:
        await onboard(chat, "en")
        monkeypatch.setattr(service_module, "step", faulty)
        await chat.say("boom", "Please send it again")
        # Kept on disk during an outage, the same update must not block the chat's later ones.
        spool = bot.channel.spool
        assert spool is not None
        spool.keep([Kept(900_001, user.chat_id, text_update(900_001, user, "boom")),
                    Kept(900_002, user.chat_id, text_update(900_002, user, "/help"))])
        spool.stall(900_001)
        spool.stall(900_002)
        after = await chat.latest()
        assert await bot.channel.replay(bot.application.bot) == 1
        await chat.expect(after, "I ask you short questions")
        assert [p.suffix for p in (tmp_path / "spool").glob("*.failed")] == [".failed"]
        assert len(spool) == 0
        assert not spool.holds(user.chat_id)
        assert bot.answers(user) == {}


async def test_a_user_who_blocked_the_bot_is_marked_stopped(telegram_bot: EmulatedBot,
                                                            database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "en")
        await telegram_bot.inject_failure("blocked", chat_id=user.chat_id, times=None)
        question = await chat.with_button("On foot")
        await user.press_button(question, "On foot")
        for _ in range(100):
            if bot.participant(user).stopped_at is not None:
                break
            await asyncio.sleep(0.05)
        assert bot.participant(user).stopped_at is not None
        assert bot.answers(user) == {"getting_around": ["walk"]}


async def test_webhook_requests_without_the_secret_token_are_refused(telegram_bot: EmulatedBot,
                                                                     database: str) -> None:
    port = free_port()
    async with youthvoice(telegram_bot, database, "webhook", port) as bot:
        update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "/start",
                                              "chat": {"id": 7, "type": "private"}}}
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.post(f"http://127.0.0.1:{port}/telegram", json=update)
            forged = await client.post(f"http://127.0.0.1:{port}/telegram", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert response.status_code == 403 and forged.status_code == 403
        assert bot.count(Participant) == 0
    assert SECRET


async def test_merged_replies_cost_one_call_per_button_answer(telegram_bot: EmulatedBot,
                                                             database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database, delivery=replace(FAST, merge=Merge.ALWAYS)) as bot:
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
        calls_before = len(await telegram_bot.calls())
        await chat.press("On foot", "What gets in your way")
        merged = await chat.with_button("The cost")
        # The pressed question became the answer and the next question, with its buttons.
        assert merged.message_id == question.message_id
        assert merged.text is not None and merged.text.startswith(
            "How do you usually get around town?\n✓ On foot\n\nWhat gets in your way")
        calls = (await telegram_bot.calls())[calls_before:]
        assert sorted(c.method for c in calls) == ["answerCallbackQuery", "editMessageText"]
        # Pressed again, the merged message echoes only the question it asks now.
        await chat.toggle("The cost")
        await chat.press("Done ✔", "during the day")
        again = await chat.with_button("5")
        assert again.text is not None and again.text.startswith(
            "What gets in your way most when getting around? (choose all that apply)\n"
            "Tap all that apply, then Done.\n✓ The cost\n\nIn your neighbourhood, during the day")
        assert bot.answers(user) == {"getting_around": ["walk"], "transport_problem": ["price"]}


async def test_a_typed_answer_takes_the_buttons_off_the_question_it_answers(
        telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database):
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
        await chat.say("by bus", "What gets in your way")
        answered = await user.wait_until(
            without_buttons(question.message_id),
            what="the answered question without buttons")
        assert answered.text == question.text
        # Only the newest question has buttons left to press.
        assert [m.message_id for m in await user.messages() if m.buttons] == [
            (await chat.with_button("The cost")).message_id]


async def test_the_last_answer_takes_the_buttons_off_the_last_question(
        telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as bot:
        await onboard(chat, "en")
        await chat.say("by subway mostly", "What gets in your way")
        await chat.say("the cost", "during the day")
        await chat.say("5", "And in the evening")
        await chat.say("3", "Is there a park")
        await chat.say("nope", "enough places for young people")
        await chat.say("none", "change one thing")
        last = await chat.with_button("Skip ⏭")
        await chat.say("A youth centre that stays open late", "Thank you!")
        # Nothing is left to answer: no Back or Skip stays live under the last question.
        answered = await user.wait_until(
            without_buttons(last.message_id),
            what="the last question without buttons")
        assert answered.text == last.text
        assert [m.message_id for m in await user.messages() if m.buttons] == []
        assert bot.answers(user)["change_first"] == "A youth centre that stays open late"


async def test_stop_takes_the_buttons_off_the_question_it_leaves(telegram_bot: EmulatedBot,
                                                                 database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database):
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
        await chat.command("stop", "you will get no more messages")
        await user.wait_until(
            without_buttons(question.message_id),
            what="the left question without buttons")
        # Coming back asks it again, with buttons of its own.
        await chat.command("start", "Welcome back")
        await chat.press("On foot", "What gets in your way")


async def test_a_batch_that_cannot_be_read_is_set_aside_and_polling_goes_on(
        telegram_bot: EmulatedBot, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    parse = Update.de_list
    failed: list[int] = []

    def first_batch_unreadable(data: list[dict[str, object]], bot: Bot | None) -> tuple[Update, ...]:
        if data and not failed:
            failed.append(1)
            raise ValueError("an update this version cannot read")
        return parse(data, bot)

    async with youthvoice(telegram_bot, database, spool=tmp_path / "spool"):
        monkeypatch.setattr(Update, "de_list", first_batch_unreadable)
        await user.send_text("hello")
        await until(lambda: bool(failed), "the unreadable batch")
        await chat.command("start", "how old are you")
    assert [p.suffix for p in (tmp_path / "spool").iterdir() if p.suffix != ".log"] == [".unreadable"]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_reply_sent_right_after_its_turn_has_its_slots_reserved_in_the_turn(
        mode: Mode, telegram_bot: EmulatedBot, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    in_turn: list[int] = []
    apart: list[int] = []
    reserve_in = RateBudget.reserve_in
    reserve_apart = RateBudget._reserve_in_database

    def counted_in_turn(budget: RateBudget, session: Session, count: int) -> list[float]:
        in_turn.append(count)
        return reserve_in(budget, session, count)

    def counted_apart(budget: RateBudget, count: int, bulk_only: bool) -> float | None:
        apart.append(count)
        return reserve_apart(budget, count, bulk_only)

    monkeypatch.setattr(RateBudget, "reserve_in", counted_in_turn)
    monkeypatch.setattr(RateBudget, "_reserve_in_database", counted_apart)
    async with youthvoice(telegram_bot, database, mode) as bot:
        await chat.command("start", "how old are you")
        await chat.press("21-24", "Do you agree to take part")
        await asyncio.sleep(0.2)
        before = (len(in_turn), len(apart))
        # A button answer: the pressed question is edited, the next one sent; two calls, both
        # reserved with the turn, none on their own.
        await chat.press("Yes, I agree", "Which city")
        assert (len(in_turn), len(apart)) == (before[0] + 1, before[1])
        assert in_turn[-1] == 2
        assert bot.answers(user) == {}

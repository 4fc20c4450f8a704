"""A worker that starts (after a crash, or next to others) picks up where the others left off."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, update
from telegram import Bot, Update

from bot.app import build_app
from bot.channels.telegram import CHANNEL, TelegramChannel, build_application
from bot.engine.messages import Inbound
from storage.db import normalise_url
from storage.models import ChannelIdentity, PendingReply
from tests.support.telegram import (
    SECRET,
    EmulatedBot,
    Mode,
    TelegramUser,
    free_port,
    without_buttons,
)
from tests.telegram.botprocess import BotProcess
from tests.telegram.test_bot import FAST, ROOT, Chat, onboard, text_update, until, youthvoice

pytestmark = pytest.mark.telegram


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


async def test_a_webhook_worker_with_nothing_waiting_takes_over_at_once(
        telegram_bot: EmulatedBot, database: str) -> None:
    async with youthvoice(telegram_bot, database, "webhook") as bot:
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(bot.channel.caught_up.wait(), timeout=10)
        # Telegram says nothing waits: no fixed pause before replies a dead worker left are judged.
        assert asyncio.get_running_loop().time() - started < 1.0


async def test_a_webhook_worker_takes_over_only_once_what_waited_for_it_is_stored(
        telegram_bot: EmulatedBot, database: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    # The worker is down: Telegram keeps what people send, and tries again and again.
    async with Bot(telegram_bot.token, base_url=telegram_bot.base_url) as plain:
        await plain.set_webhook(url, secret_token=SECRET)
        users = [telegram_bot.user(first_name=f"W{i}", language_code="en") for i in range(3)]
        for user in users:
            await user.send_command("start")
        while (await plain.get_webhook_info()).last_error_message is None:
            await asyncio.sleep(0.05)
    async with youthvoice(telegram_bot, database, "webhook", port=port) as bot:
        await asyncio.wait_for(bot.channel.caught_up.wait(), timeout=10)
        with bot.app.sessions() as session:
            stored = set(session.scalars(select(ChannelIdentity.external_id)).all())
        assert stored == {str(u.chat_id) for u in users}


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_restarted_worker_takes_over_a_dead_workers_reply_as_soon_as_it_is_caught_up(
        mode: Mode, telegram_bot: EmulatedBot, database: str) -> None:
    # A worker stored a /start and died before replying; its lease has run out. A worker restarted
    # in a crash loop may live only a moment: it must not wait for its next round to reply.
    app = build_app(ROOT / "config.yml", database)
    user = telegram_bot.user(language_code="en")
    turn = app.service.handle(CHANNEL, str(user.chat_id), Inbound.text_message("/start", datetime.now(UTC)),
                              message_key="1", interface_language="en",
                              keep_reply={"pressed": None, "pressed_text": None})
    assert turn.reply is not None
    with app.sessions.begin() as session:
        session.execute(update(PendingReply).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
    app.close()
    async with youthvoice(telegram_bot, database, mode, delivery=replace(FAST, tick=60.0)):
        await user.wait_until(lambda ms: any("how old are you" in (m.text or "") for m in ms),
                              timeout=5, what="the reply the dead worker left")


def live_buttons(database: str, user: TelegramUser) -> int | None:
    engine = create_engine(normalise_url(database))
    try:
        with engine.connect() as connection:
            return connection.scalar(select(ChannelIdentity.buttons_message_id).where(
                ChannelIdentity.external_id == str(user.chat_id)))
    finally:
        engine.dispose()


async def test_after_a_kill_a_typed_answer_takes_the_old_buttons_off(
        telegram_bot: EmulatedBot, database: str, tmp_path: Path) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    process = BotProcess(telegram_bot, database, tmp_path)
    process.start()
    try:
        # The process takes a few seconds to start.
        await user.send_command("start")
        await user.wait_until(lambda ms: any("how old are you" in (m.text or "") for m in ms),
                              timeout=60, what="the first question")
        await chat.press("21-24", "Do you agree to take part")
        await chat.press("Yes, I agree", "Which city")
        await chat.press("Montreal", "which neighbourhood")
        await chat.press("Verdun", "How do you usually get around")
        question = await chat.with_button("On foot")
        await until(lambda: live_buttons(database, user) == question.message_id,
                    "the question's buttons to be recorded", timeout=10)
        process.kill()
        process.start()
        await user.send_text("by bus")
        await user.wait_until(lambda ms: any("What gets in your way" in (m.text or "") for m in ms),
                              timeout=60, what="the next question")
        # The restarted worker never saw the question, yet its buttons are gone.
        await user.wait_until(without_buttons(question.message_id), timeout=10,
                              what="the answered question without buttons")
        assert [m.message_id for m in await user.messages() if m.buttons] == [
            (await chat.with_button("The cost")).message_id]
    finally:
        process.stop()


async def test_a_typed_answer_on_another_worker_takes_the_old_buttons_off(
        telegram_bot: EmulatedBot, database: str) -> None:
    user = telegram_bot.user(language_code="en")
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as first:
        await onboard(chat, "en")
        question = await chat.with_button("On foot")
        await until(lambda: live_buttons(database, user) == question.message_id,
                    "the question's buttons to be recorded")
        # A second worker of the same bot (behind a webhook, say) gets the typed answer.
        app = build_app(ROOT / "config.yml", database)
        second = TelegramChannel(app.service, app.context.catalog, FAST)
        application = build_application(second, telegram_bot.token, base_url=telegram_bot.url)
        try:
            async with application:
                update = Update.de_json(text_update(10_000, user, "by bus"), application.bot)
                async with second.chats.chat(user.chat_id):
                    await second.handle_update(update, application.bot)
                await user.wait_until(without_buttons(question.message_id), timeout=10,
                                      what="the answered question without buttons")
                await chat.with_button("The cost")
                await second.stop()
        finally:
            app.close()
        assert first.channel is not second


async def test_a_quiet_worker_removes_a_delivered_reply_at_once(
        telegram_bot: EmulatedBot, database: str) -> None:
    # No round for a minute and no turn after the reply: a crash must not find it still queued
    # (it would be sent again after the restart, the question not yet answered).
    user = telegram_bot.user(language_code="en")
    async with youthvoice(telegram_bot, database, delivery=replace(FAST, tick=60.0)) as bot:
        await bot.channel.caught_up.wait()
        await user.send_command("start")
        await user.wait_until(lambda ms: any("how old are you" in (m.text or "") for m in ms),
                              what="the first question")
        await until(lambda: bot.count(PendingReply) == 0, "the delivered reply to be removed",
                    timeout=2)

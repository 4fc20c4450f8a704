"""A worker that starts (after a crash, or next to others) picks up where the others left off."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from telegram import Bot

from bot.app import build_app
from bot.channels.telegram import CHANNEL
from bot.engine.messages import Inbound
from storage.models import ChannelIdentity, PendingReply
from tests.support.telegram import SECRET, EmulatedBot, Mode, free_port
from tests.telegram.test_bot import FAST, ROOT, youthvoice

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

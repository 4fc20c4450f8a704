"""A council that prefers Telegram gets a short text and the charts as photos (Bot API emulator)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.config import RecipientsConfig
from digests.service import BACKOFF
from storage.models import DigestDelivery
from tests.digests.conftest import deploy
from tests.support.telegram import EmulatedBot, Emulator, start_emulator

pytestmark = pytest.mark.telegram
GROUP = -1001234567


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emulator = start_emulator()
    yield emulator
    emulator.stop()


async def test_text_then_one_photo_per_question_resuming_after_a_failure(emulator: Emulator,
                                                                         tmp_path: Path) -> None:
    async with emulator.bot() as emulated:
        messages, questions = await deliver(emulated, tmp_path)
    assert len(messages) == 1 + questions
    text = messages[0]["text"]
    assert text.startswith("Ce que disent les jeunes de Lyon\nDu 23 novembre 2026 au 30 novembre 2026")
    assert "jeunes ont répondu" in text and "La synthèse complète est envoyée par e-mail." in text
    captions = [message["caption"] for message in messages[1:]]
    assert captions[0] == "Comment te déplaces-tu le plus souvent en ville ?"
    assert all(message["photo"][0]["file_size"] > 1000 for message in messages[1:])


async def deliver(emulated: EmulatedBot, tmp_path: Path) -> tuple[list[dict[str, Any]], int]:
    """Queue Lyon's digest for a Telegram group; the first photo fails once, then all goes."""
    deployed = deploy(f"sqlite:///{tmp_path / 't.db'}", None, tmp_path / "outbox")
    try:
        lyon = deployed.council("lyon-council").model_copy(
            update={"recipients": RecipientsConfig(telegram_chat_id=GROUP)})
        deployed.app.config = deployed.app.config.model_copy(update={"councils": [lyon]})
        deployed.service.config = deployed.app.config
        deployed.service.telegram = lambda: Bot(emulated.token, base_url=emulated.base_url)
        await emulated.inject_failure("bad_gateway", method="sendPhoto", times=1)
        assert deployed.service.queue(lyon, deployed.week) == ["telegram"]
        # The service runs its own event loop, as in the bot's background thread.
        assert await asyncio.to_thread(deployed.service.deliver_due) == 0
        with deployed.app.sessions() as session:
            (waiting,) = session.scalars(select(DigestDelivery)).all()
        assert (waiting.status, waiting.progress) == ("queued", 1)
        deployed.clock.now += BACKOFF[0]
        assert await asyncio.to_thread(deployed.service.deliver_due) == 1
        questions = len(deployed.service.build(lyon, deployed.week).questions)
    finally:
        deployed.app.close()
    return [message.raw for message in await emulated.sent_messages(GROUP)], questions

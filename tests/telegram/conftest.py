"""Fixtures for end-to-end tests against the Telegram Bot API emulator (loopback only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.telegram import EmulatedBot, Emulator, TelegramUser, start_emulator


@pytest.fixture(scope="session")
def telegram_emulator() -> Iterator[Emulator]:
    """One emulator per session; tests stay apart because each uses its own bot token."""
    emulator = start_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
async def telegram_bot(telegram_emulator: Emulator) -> AsyncIterator[EmulatedBot]:
    """A fresh bot token on the emulator, with access to its users, calls and fault injection."""
    async with telegram_emulator.bot() as bot:
        yield bot


@pytest.fixture
def telegram_user(telegram_bot: EmulatedBot) -> TelegramUser:
    """A French-speaking user in a private chat with `telegram_bot`."""
    return telegram_bot.user()

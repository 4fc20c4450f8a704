"""20 young people answer while the bot is killed with kill -9 again and again (polling and webhook,
SQLite and PostgreSQL): every answer is stored exactly once, everyone finishes, no reply waits more
than 30 s after the restart, and nobody sees a question out of order."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.channels.telegram import question_of
from storage.db import normalise_url
from storage.models import Answer, ChannelIdentity
from tests.support.postgres import reset_schema
from tests.support.telegram import BotMessage, EmulatedBot, TelegramUser, free_port
from tests.telegram.botprocess import BotProcess
from tests.telegram.test_bot import Seen, changed, seen

pytestmark = pytest.mark.telegram

USERS = 20
KILLS = 10
# After a restart a reply may wait for the dead worker's lease (10 s) and the start-up itself.
LONGEST_WAIT = 30.0
# Twenty people watching their chats must not load the emulator (and this machine) more than the bot.
WATCH_EVERY = 0.25

# (what to do, its argument, what the reply must contain); "toggle" waits for the ticked button.
SCRIPT: list[tuple[str, str, str]] = [
    ("command", "start", "how old are you"),
    ("press", "21-24", "Do you agree to take part"),
    ("press", "Yes, I agree", "Which city"),
    ("press", "Montreal", "which neighbourhood"),
    ("press", "Verdun", "How do you usually get around"),
    ("press", "On foot", "What gets in your way"),
    ("toggle", "The cost", ""),
    ("press", "Done ✔", "during the day"),
    ("say", "4", "And in the evening"),
    ("press", "3", "Is there a park"),
    ("say", "nope", "enough places for young people"),
    ("press", "Not enough", "Which ones do you use"),
    ("say", "sport", "change one thing"),
    ("say", "More buses at night", "Thank you!"),
]
ANSWERS = {"getting_around": ["walk"], "transport_problem": ["price"], "safety_day": ["4"],
           "safety_night": ["3"], "green_spaces": ["no"], "youth_places": ["too_few"],
           "youth_places_kind": ["sport"], "change_first": "More buses at night"}
# The questions in the order they are asked: a reply showing one after a later one is out of order.
ORDER = [expect for _, _, expect in SCRIPT if expect]


@dataclass
class Persona:
    user: TelegramUser
    waits: list[tuple[float, float]] = field(default_factory=list)  # (asked at, answered at)
    finished: bool = False

    async def run(self) -> None:
        for kind, argument, expect in SCRIPT:
            before = seen(await self.user.messages())
            asked = time.monotonic()
            if kind == "command":
                await self.user.send_command(argument)
            elif kind == "say":
                await self.user.send_text(argument)
            else:
                question = await self.user.wait_until(
                    functools.partial(latest_with, label=argument), timeout=90, every=WATCH_EVERY,
                    what=f"a button {argument!r}")
                await self.user.press_button(question, argument)
            if kind == "toggle":
                await self.user.wait_until(functools.partial(latest_with, label=f"✅ {argument}"),
                                           timeout=90, every=WATCH_EVERY, what=f"the ticked {argument!r}")
            else:
                await self.user.wait_until(
                    functools.partial(first_after, after=before, text=expect), timeout=90,
                    every=WATCH_EVERY, what=f"a reply containing {expect!r}")
            self.waits.append((asked, time.monotonic()))
        self.finished = True


def first_after(messages: list[BotMessage], after: Seen, text: str) -> BotMessage | None:
    """A message new or edited since ``after`` (a reply merged into the pressed question) showing text."""
    return next((m for m in messages if changed(m, after) and text in (m.text or "")), None)


def latest_with(messages: list[BotMessage], label: str) -> BotMessage | None:
    shown = [m for m in messages if m.buttons]
    latest = shown[-1] if shown else None
    return latest if latest and any(b.text == label for b in latest.buttons) else None


def shown_in_order(messages: list[BotMessage]) -> bool:
    """The questions come in survey order: message after message, and edit after edit of one
    message (a reply merged into the pressed question)."""
    def position(text: str | None) -> int | None:
        asked = question_of(text or "")
        return next((i for i, expect in enumerate(ORDER) if expect in asked), None)

    firsts = [position(m.versions[0].text if m.versions else m.text)
              for m in sorted(messages, key=lambda m: m.message_id)]
    in_order = [p for p in firsts if p is not None]
    for message in messages:
        edits = [p for p in (position(v.text) for v in message.versions) if p is not None]
        if edits != sorted(edits):
            return False
    return in_order == sorted(in_order)


async def kill_now_and_then(process: BotProcess, personas: list[Persona], bot: EmulatedBot,
                            busy: list[int]) -> None:
    rng = random.Random()
    for _ in range(KILLS):
        # Once Bot API calls are seen again, at a random moment. The killed bot's last calls count
        # too, so some kills land while the restarted one is still starting (a crash loop).
        started = time.time()
        while not any(c.at >= started - 0.5 for c in await bot.calls()):
            await asyncio.sleep(0.1)
        await asyncio.sleep(rng.uniform(0.2, 3.0))
        if all(p.finished for p in personas):
            break
        calls = await bot.calls()
        now = time.time()
        busy.append(sum(1 for c in calls if now - c.at < 1.0))
        process.kill()
        process.start()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_killed_at_random_moments_nobody_loses_anything(
        mode: str, backend: str, telegram_bot: EmulatedBot, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    if backend == "postgresql":
        database: str = request.getfixturevalue("postgres_url")
        reset_schema(database)
    else:
        database = f"sqlite:///{tmp_path / 'bot.db'}"
    process = BotProcess(telegram_bot, database, tmp_path,
                         webhook_port=free_port() if mode == "webhook" else None)
    personas = [Persona(telegram_bot.user(first_name=f"P{i}", language_code="en")) for i in range(USERS)]
    busy: list[int] = []
    process.start()
    try:
        killer = asyncio.create_task(kill_now_and_then(process, personas, telegram_bot, busy))
        await asyncio.gather(*(p.run() for p in personas))
        await killer
    finally:
        process.stop()
    log = process.log.read_text(errors="replace")
    assert len(process.kills) >= KILLS, f"only {len(process.kills)} kills: the personas finished first"
    assert max(busy) > 0, f"never killed while busy: calls in the second before each kill {busy}"
    assert all(p.finished for p in personas)
    # Each wait, counted from the later of the message and the bot's last start.
    waits = [done - max(asked, process.last_start_before(done))
             for p in personas for asked, done in p.waits]
    assert max(waits) <= LONGEST_WAIT, (max(waits), log[-3000:])
    for persona in personas:
        messages = await persona.user.messages()
        assert shown_in_order(messages), [m.text for m in messages]
    engine = create_engine(normalise_url(database))
    try:
        with Session(engine) as session:
            rows = [(external_id, answer.question_id, answer.option_ids, answer.text)
                    for external_id, answer in session.execute(
                        select(ChannelIdentity.external_id, Answer)
                        .join(Answer, Answer.participant_id == ChannelIdentity.participant_id)).all()]
            identities = session.scalar(select(func.count()).select_from(ChannelIdentity))
    finally:
        engine.dispose()
    assert identities == USERS
    stored: dict[str, dict[str, object]] = {}
    for external_id, question, options, text in rows:
        assert question not in stored.setdefault(external_id, {}), "an answer stored twice"
        stored[external_id][question] = options if options is not None else text
    assert len(rows) == USERS * len(ANSWERS)
    assert all(answers == ANSWERS for answers in stored.values()), stored

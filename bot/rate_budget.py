"""One send budget per bot token, shared by every worker: together they stay under Telegram's limit.

Telegram lets a bot send about 30 messages a second overall and 20 a minute into one group
(docs/telegram-limits.md). Each worker used to have its own limiter, so two workers could send twice
the allowed rate. Here the budget lives in the database as the time of the next free send slot (and,
for each group the bot writes to, the group's own next slot);
a worker reserves a few slots at a time by moving it forward in one conditional update, then
hands them out locally by priority: replies to young people first, then safeguarding alerts, then
bulk (campaign invitations, digests). Bulk takes slots only while nobody anywhere has reserved
ahead, so a broadcast never delays a reply by more than the slots already handed out.

A caller that knows more sends follow its first (the rest of a reply) says so, and the whole
reply's slots come in that one round trip rather than one per call. A slot that passed while
nobody waited for it is dropped, never spent later on top of the slots of that later moment.

If the database cannot be reached the worker keeps sending at the budget's rate on its own: the
bot degrades (with several workers it may then exceed the limit and wait out Telegram's 429s), it
never stops replying.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage import repositories as repo

log = logging.getLogger(__name__)


class Priority(IntEnum):
    REPLY = 0
    ALERT = 1
    BULK = 2


@dataclass(frozen=True)
class Limits:
    # Telegram's "about 30 messages per second" to different chats, for the whole bot.
    per_second: float = 30.0
    # Into one group or channel: 20 a minute, short bursts allowed.
    group_per_minute: float = 20.0
    group_burst: int = 5
    # Slots reserved per database round trip: more saves queries under load, fewer keeps bulk from
    # holding slots a reply on another worker could have used.
    block: int = 8
    bulk_block: int = 2


def budget_key(token: str) -> str:
    """The budget's name: the bot's id (the token's public part), never the secret."""
    return "telegram:" + token.split(":", 1)[0]


def group_key(key: str, chat_id: int) -> str:
    """A group's own pace within the bot's budget (a row of its own next to the bot's)."""
    return f"{key}:chat:{chat_id}"


class RateBudget:
    """``acquire`` before each Bot API call that sends into a chat; ``penalise`` after a 429."""

    def __init__(self, sessions: sessionmaker[Session] | None, key: str, limits: Limits | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.key = key
        self.limits = limits or Limits()
        self.clock = clock
        self.interval = 1.0 / self.limits.per_second
        # (priority, arrival, caller, sends that caller announced after this one)
        self._waiting: list[tuple[int, int, asyncio.Future[None], int]] = []
        self._order = itertools.count()
        self._slots: deque[float] = deque()
        self._paused_until = 0.0
        self._local_next = 0.0
        self._groups: dict[int, float] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._offline = False

    async def acquire(self, priority: Priority, chat_id: int | None = None, *, then: int = 0) -> None:
        """Wait until this worker may send one message (to ``chat_id``, when given).

        ``then``: how many more sends this caller will ask for as soon as this one is done (the
        rest of a reply); their slots are reserved together with this one.
        """
        if chat_id is not None and chat_id < 0:
            await self._group_turn(chat_id)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (int(priority), next(self._order), future, max(then, 0)))
        self._ensure_dispatcher()
        await future

    def backlog(self) -> int:
        """How many sends wait in this worker for a slot."""
        return sum(1 for _, _, future, _ in self._waiting if not future.done())

    def penalise(self, retry_after: float) -> None:
        """Telegram answered 429: nothing goes out, from any worker, for ``retry_after`` seconds."""
        until = self.clock() + retry_after
        self._paused_until = max(self._paused_until, until)
        self._slots.clear()
        if self.sessions is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._pause, until))
        except RuntimeError:
            self._pause(until)
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for task in list(self._background):
            await task

    def _pause(self, until: float) -> None:
        assert self.sessions is not None
        try:
            with self.sessions.begin() as session:
                repo.pause_budget(session, self.key, until)
        except Exception as exc:
            log.warning("could not share a flood wait with other workers: %s", exc)

    async def _group_turn(self, chat_id: int) -> None:
        """Groups: 20 a minute with bursts of a few, for all workers together.

        A group's own pace is kept in the same table as the bot's, under its own key: one
        conditional update per send moves it forward (groups get safeguarding alerts, not replies,
        so the round trip stays off the young people's path). Without the database the worker
        paces the group alone.
        """
        spacing = 60.0 / self.limits.group_per_minute
        now = self.clock()
        theoretical = await self._group_slot_shared(chat_id, now, spacing) \
            if self.sessions is not None else None
        if theoretical is None:
            theoretical = max(self._groups.get(chat_id, now), now)
            self._groups[chat_id] = theoretical + spacing
        wait = theoretical - now - spacing * (self.limits.group_burst - 1)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _group_slot_shared(self, chat_id: int, now: float, spacing: float) -> float | None:
        """When the group's next send would be due at its steady pace; None without the database."""
        try:
            return await asyncio.to_thread(self._group_slot_in_database, chat_id, now, spacing)
        except Exception as exc:
            log.warning("shared pace of group %s unavailable, pacing it in this worker: %s", chat_id, exc)
            return None

    def _group_slot_in_database(self, chat_id: int, now: float, spacing: float) -> float | None:
        assert self.sessions is not None
        with self.sessions.begin() as session:
            return repo.reserve_slots(session, group_key(self.key, chat_id), now, 1, spacing, False)

    def _ensure_dispatcher(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def _live(self) -> list[tuple[int, int, asyncio.Future[None], int]]:
        while self._waiting and self._waiting[0][2].done():
            heapq.heappop(self._waiting)  # given up by its caller (cancelled)
        return self._waiting

    async def _dispatch(self) -> None:
        """Hand each slot to the most urgent caller waiting when the slot comes."""
        assert self._wake is not None
        while True:
            waiting = self._live()
            if not waiting:
                self._wake.clear()
                await self._wake.wait()
                self._drop_passed()
                continue
            pause = self._paused_until - self.clock()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if not self._slots:
                await self._reserve(waiting)
                continue
            slot = self._slots.popleft()
            delay = slot - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._paused_until > self.clock():
                continue  # a 429 arrived meanwhile: this slot is void
            waiting = self._live()
            if waiting:
                heapq.heappop(waiting)[2].set_result(None)

    def _drop_passed(self) -> None:
        """Slots that passed while nobody here waited (announced sends that never came) are gone:
        spent now they would add to the sends of whoever holds the slots of this moment. A slot
        merely late because this worker was busy is still used, in order."""
        now = self.clock()
        while self._slots and self._slots[0] + self.interval < now:
            self._slots.popleft()

    async def _reserve(self, waiting: list[tuple[int, int, asyncio.Future[None], int]]) -> None:
        live = [(priority, then) for priority, _, future, then in waiting if not future.done()]
        bulk_only = all(priority >= Priority.BULK for priority, _ in live)
        wanted = sum(1 + then for _, then in live)
        count = min(wanted, self.limits.bulk_block if bulk_only else self.limits.block)
        first = await self._reserve_shared(count, bulk_only) if self.sessions is not None else None
        if first is None and self.sessions is not None and not self._offline:
            # Bulk found the budget busy: let replies anywhere go first, look again a slot later.
            await asyncio.sleep(self.interval)
            return
        if first is None:
            first = max(self._local_next, self.clock())
            self._local_next = first + count * self.interval
        self._slots.extend(first + i * self.interval for i in range(count))

    async def _reserve_shared(self, count: int, bulk_only: bool) -> float | None:
        try:
            first = await asyncio.to_thread(self._reserve_in_database, count, bulk_only)
        except (OperationalError, InterfaceError) as exc:
            if not self._offline:
                log.warning("send budget unavailable, pacing this worker alone: %s", exc)
                self._offline = True
            return None
        except Exception:
            # Never leave senders waiting on a budget that cannot answer.
            log.exception("send budget failed, pacing this worker alone")
            self._offline = True
            return None
        if self._offline:
            log.info("send budget shared again")
            self._offline = False
        return first

    def _reserve_in_database(self, count: int, bulk_only: bool) -> float | None:
        assert self.sessions is not None
        with self.sessions.begin() as session:
            return repo.reserve_slots(session, self.key, self.clock(), count, self.interval, bulk_only)

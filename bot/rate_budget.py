"""One sending budget per bot token for the whole deployment, shared through the database.

Telegram allows about 30 messages per second per bot to different chats. Every worker takes its
bulk sends (invitations, reminders) from one shared row: the next free slot. Replies to young people
in a conversation never wait here; they are counted and push bulk sends back, so replies go first.
Slots are reserved a few at a time, so the database sees one short transaction per few messages.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import RateBudget as RateBudgetRow
from storage.repositories import _insert_for


class Priority(IntEnum):
    REPLY = 0
    ALERT = 1
    BULK = 2


def budget_key(token: str) -> str:
    """The row of one bot token, named without writing the token anywhere."""
    return "telegram:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class RateBudget:
    def __init__(self, sessions: sessionmaker[Session], key: str, rate: float, *, block: int = 5,
                 wall: Callable[[], float] = time.time) -> None:
        self.sessions = sessions
        self.key = key
        self.interval = 1.0 / rate
        self.block = block
        self.wall = wall
        self._slots: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._counted = threading.Lock()
        # Sends that did not wait (replies, alerts) since the last reservation.
        self._unreserved = 0
        self._pause_until = 0.0

    async def acquire(self, priority: Priority, chat_id: int | None = None) -> None:
        """Wait until a send is allowed for the whole deployment (replies and alerts never wait)."""
        if priority < Priority.BULK:
            with self._counted:
                self._unreserved += 1
            return
        async with self._lock:
            if not self._slots:
                self._slots.extend(await asyncio.to_thread(self._reserve))
            slot = self._slots.popleft()
        delay = slot - self.wall()
        if delay > 0:
            await asyncio.sleep(delay)

    def penalise(self, retry_after: float) -> None:
        """Telegram said 429: every worker pauses for `retry_after` seconds."""
        self._pause_until = max(self._pause_until, self.wall() + retry_after)
        self._slots.clear()

    def _reserve(self) -> list[float]:
        with self._counted:
            others, self._unreserved = self._unreserved, 0
        now = self.wall()
        with self.sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            session.execute(_insert_for(dialect, RateBudgetRow).values(key=self.key, next_at=now)
                            .on_conflict_do_nothing(index_elements=["key"]))
            next_at = session.scalars(select(RateBudgetRow.next_at).where(RateBudgetRow.key == self.key)
                                      .with_for_update()).one()
            start = max(now, next_at, self._pause_until) + others * self.interval
            session.execute(update(RateBudgetRow).where(RateBudgetRow.key == self.key)
                            .values(next_at=start + self.block * self.interval))
        return [start + i * self.interval for i in range(self.block)]

"""A campaign's progress figures for its status page, without counting on every view.

Counting a campaign's progress joins its invitations, participations and completions with the
participants: about half a second at 100,000 participants on PostgreSQL, while the page reloads
itself every ten seconds as invitations go out. The figures are kept per process: a view older
than `max_age` gets them as they are while one background thread counts again, and the console's
own actions (publish, send, schedule, close) forget them so that their effect shows at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.broadcast import Progress
from storage import campaign_reports as reports
from storage import invitations as queue
from storage.campaign_reports import Group
from storage.invitations import Audience

log = logging.getLogger(__name__)

# How old the figures may be before a view has them counted again (the page reloads every 10 s).
MAX_AGE = timedelta(seconds=5)


@dataclass(frozen=True)
class Figures:
    groups: dict[Group, Counter[str]]
    progress: Progress
    # When they were counted (the console's clock), and on the monotonic clock, for their age.
    counted_at: datetime
    counted_monotonic: float


Key = tuple[str, tuple[Audience, ...]]


class StatusCache:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], channel: str, *,
                 max_age: timedelta = MAX_AGE, background: bool = True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.clock = clock
        self.channel = channel
        self.max_age = max_age.total_seconds()
        self.background = background
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: dict[Key, Figures] = {}
        self._running: dict[Key, threading.Thread] = {}
        # Bumped by `forget`: a count begun before it must not put back what it forgot.
        self._generation: dict[str, int] = {}

    def figures(self, session: Session, campaign_id: str, audiences: Sequence[Audience]) -> Figures:
        key = (campaign_id, tuple(audiences))
        with self._lock:
            kept = self._kept.get(key)
        if kept is None or (not self.background and self.monotonic() - kept.counted_monotonic > self.max_age):
            return self._count(session, key)
        if self.monotonic() - kept.counted_monotonic > self.max_age:
            self._count_later(key)
        return kept

    def forget(self, campaign_id: str) -> None:
        """After an action of the console on the campaign: the next view counts afresh."""
        with self._lock:
            self._generation[campaign_id] = self._generation.get(campaign_id, 0) + 1
            for key in [k for k in self._kept if k[0] == campaign_id]:
                del self._kept[key]

    def wait(self) -> None:
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join()

    def _count(self, session: Session, key: Key) -> Figures:
        campaign_id, audiences = key
        started = self.monotonic()
        with self._lock:
            generation = self._generation.get(campaign_id, 0)
        figures = Figures(reports.progress_by_group(session, campaign_id, list(audiences), self.channel),
                          Progress(queue.counts(session, campaign_id), queue.next_due(session, campaign_id)),
                          self.clock(), started)
        with self._lock:
            if self._generation.get(campaign_id, 0) == generation:
                self._kept[key] = figures
        return figures

    def _count_later(self, key: Key) -> None:
        with self._lock:
            running = self._running.get(key)
            if running is not None and running.is_alive():
                return

            def count() -> None:
                try:
                    with self.sessions() as session:
                        self._count(session, key)
                except Exception:
                    log.exception("could not count the progress of %s again", key[0])

            thread = threading.Thread(target=count, name=f"status-{key[0]}", daemon=True)
            self._running[key] = thread
            thread.start()

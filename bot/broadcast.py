"""The broadcaster: campaign invitations and their one reminder, sent to the right people, once.

Every worker runs it (inside `youthvoice run`), and `youthvoice campaign send ID --wait` runs it for
one campaign from the terminal. Each round:

1. plan (every few seconds): queue an invitation for everyone in an open campaign's target who has
   none, and the reminder for those invited long enough ago who did not finish, due at once or, in
   a city's quiet hours, when they end;
2. claim a batch of due rows (no two workers get the same row), drop those that must not go (the
   participant stopped, the campaign closed, they started on their own) and put back those that
   would reach someone at night;
3. send each under the deployment's rate budget, writing `sending` before the message leaves, so
   a sender killed at any moment never sends it again after a restart.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import math
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.campaigns import Catalogue, LiveCatalogue
from bot.config import AppConfig
from bot.engine.campaigns import invitation
from bot.engine.messages import Outbound
from bot.engine.texts import Catalog
from bot.rate_budget import Priority, RateBudget
from bot.schedule import next_allowed
from storage import council_replies as replies
from storage import invitations as queue
from storage.invitations import Audience, Claimed

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class Sent(enum.Enum):
    SENT = enum.auto()
    # The participant blocked the bot (403): they are stopped, nothing more goes to them.
    BLOCKED = enum.auto()
    # Refused for good (400: chat gone, bad request): retrying cannot help.
    REFUSED = enum.auto()
    # Nothing left (no connection): safe to try again later.
    RETRY = enum.auto()
    # It may have left (timed out waiting for the answer): never sent again, to never send twice.
    UNCERTAIN = enum.auto()


@dataclass(frozen=True)
class Flooded:
    """Telegram's flood limit (429): nothing left; try again after `retry_after` seconds."""

    retry_after: float


Send = Callable[[str, Outbound], Awaitable[Sent | Flooded]]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class BroadcastSettings:
    # Rows claimed at once: seconds' worth of the rate, so that claiming and recording (a few
    # tens of milliseconds each) cost little of the rate (at 50 per claim they cost 8%), while a
    # killed sender's claims, which wait for the lease, stay few.
    batch_seconds: float = 4.0
    # A dead worker's claimed rows go to others after this; rows it was sending never do.
    lease: timedelta = timedelta(seconds=15)
    plan_every: float = 10.0
    # The shortest pause after a round that found nothing due (idle, the next look is at the next plan).
    idle_pause: float = 2.0
    # Messages marked as sending in one commit and sent together: a fifth of a second's worth of
    # the rate (5 at 25/s), small bursts that keep each second under the rate.
    waves_per_second: int = 5
    first_retry: timedelta = timedelta(seconds=30)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Planner:
    """Queues what became due: invitations in open campaigns, then reminders."""

    def __init__(self, sessions: sessionmaker[Session], config: AppConfig, catalogue: LiveCatalogue,
                 clock: Clock, channel: str = "telegram") -> None:
        self.sessions = sessions
        self.config = config
        self.catalogue = catalogue
        self.clock = clock
        self.channel = channel
        self.zones = {c.id: ZoneInfo(c.timezone) for c in config.cities}

    def plan(self, campaign_id: str | None = None) -> int:
        """Returns how many rows were added."""
        catalogue = self.catalogue.current()
        now = self.clock()
        added = 0
        with self.sessions.begin() as session:
            for run in catalogue.runs.values():
                if not run.broadcast or run.closed_at is not None:
                    continue
                if campaign_id is not None and run.campaign_id != campaign_id:
                    continue
                added += self._plan_campaign(session, catalogue, run.campaign_id, now)
        if added:
            log.info("queued %d invitations and reminders", added)
        return added

    def _plan_campaign(self, session: Session, catalogue: Catalogue, campaign_id: str,
                       now: datetime) -> int:
        run = catalogue.runs[campaign_id]
        survey = catalogue.versions.get((campaign_id, run.version))
        window = catalogue.windows.get(campaign_id)
        if survey is None or window is None:
            return 0
        audience = survey.audience
        added = 0
        for city in audience.cities:
            if city not in self.zones or not window.is_open(city, now):
                continue
            due = next_allowed(now, self.zones[city], self.config.quiet_hours_of(city).span())
            added += queue.queue_invitations(
                session, campaign_id, run.version,
                Audience(city, audience.neighbourhoods, audience.age_bands, audience.languages),
                self.channel, due, now)
            reminder = survey.schedule.reminder_after
            if reminder is not None:
                added += queue.queue_reminders(session, campaign_id, city, now - reminder, due, now)
        return added


class Broadcaster:
    def __init__(self, planner: Planner, catalog: Catalog, budget: RateBudget, send: Send, *,
                 mark_stopped: Callable[[str], None], worker: str | None = None,
                 settings: BroadcastSettings | None = None) -> None:
        self.planner = planner
        self.sessions = planner.sessions
        self.config = planner.config
        self.catalogue = planner.catalogue
        self.clock = planner.clock
        self.channel = planner.channel
        self.zones = planner.zones
        self.catalog = catalog
        self.budget = budget
        self.send = send
        self.mark_stopped = mark_stopped
        self.worker = worker or worker_name()
        self.settings = settings or BroadcastSettings()
        self._planned_at: float | None = None

    # -- sending -----------------------------------------------------------------------------

    async def round(self, campaign_id: str | None = None) -> int:
        """Claim one batch and send it in waves; returns how many rows were handled (0: none due)."""
        # Checked now, not within the worker's minute: a row queued by another process (the
        # console's Send, `campaign send`) may name a version published seconds ago, and a row
        # whose campaign is unknown is dropped.
        catalogue = await asyncio.to_thread(functools.partial(self.catalogue.current, check=True))
        to_send = await asyncio.to_thread(self._claim, catalogue, campaign_id)
        if to_send is None:
            return 0
        results: list[tuple[Claimed, Sent | Flooded]] = []
        wave = max(1, math.ceil(self.budget.limits.per_second / self.settings.waves_per_second))
        for start in range(0, len(to_send), wave):
            results += await self._send_wave(to_send[start:start + wave])
        await asyncio.to_thread(self._settle, results)
        return max(len(to_send), 1)

    async def _send_wave(self, wave: list[tuple[Claimed, Outbound]]) -> list[tuple[Claimed, Sent | Flooded]]:
        """Take a slot for each, mark them all as sending in one commit, then send them together.

        Telegram has no way to ask whether a message arrived, so one moment is unavoidable: killed
        after the commit and before a request has left, that invitation is lost rather than sent
        twice (a row left in `sending` is never sent again). The commit and the requests follow
        each other on this thread with nothing in between, which keeps that moment to the
        fraction of a millisecond each request takes to build and write.
        """
        for row, _ in wave:
            assert row.address is not None
            await self.budget.acquire(Priority.BULK, int(row.address) if row.address.isdigit() else None)
        # On this thread, not another: nothing else runs between the commit and the sends.
        marked = self._mark_sending([row.id for row, _ in wave])
        # A row missing here ran out of lease and another worker holds it: it is theirs to send.
        mine = [(row, message) for row, message in wave if row.id in marked]
        sent = await asyncio.gather(*(self.send(row.address or "", message) for row, message in mine))
        return [(row, outcome) for (row, _), outcome in zip(mine, sent, strict=True)]

    def _claim(self, catalogue: Catalogue,
               campaign_id: str | None) -> list[tuple[Claimed, Outbound]] | None:
        """Claim due rows; drop or put back those that must not go now. None when nothing was due."""
        now = self.clock()
        settings = self.settings
        with self.sessions.begin() as session:
            batch = max(1, math.ceil(self.budget.limits.per_second * settings.batch_seconds))
            claimed = queue.claim(session, self.worker, now, settings.lease, batch,
                                  self.channel, campaign_id)
            if not claimed:
                return None
            drop: list[tuple[int, str]] = []
            later: dict[datetime, list[int]] = {}
            to_send: list[tuple[Claimed, Outbound]] = []
            for row in claimed:
                if row.kind == replies.KIND:
                    # A council's reply goes after the campaign closed, to those who took part.
                    reply = None if row.stopped or row.address is None else replies.reply_for(
                        session, row.campaign_id, row.city)
                    if reply is None:
                        drop.append((row.id, "dropped"))
                    elif not self._quiet(row, now, later):
                        to_send.append((row, Outbound(reply.text(row.language))))
                    continue
                survey = catalogue.versions.get((row.campaign_id, row.campaign_version))
                gone = (row.stopped or row.closed or row.address is None or survey is None
                        or (row.kind == "invitation" and row.started)
                        or (row.kind == "reminder" and row.completed))
                if gone or survey is None:
                    drop.append((row.id, "dropped"))
                    continue
                if self._quiet(row, now, later):
                    continue
                language = row.language or self.config.default_language
                to_send.append((row, invitation(survey, language, self.catalog,
                                                reminder=row.kind == "reminder")))
            queue.settle(session, drop, now)
            for due, ids in later.items():
                queue.release(session, ids, due)
        return to_send

    def _quiet(self, row: Claimed, now: datetime, later: dict[datetime, list[int]]) -> bool:
        """In the quiet hours of the participant's city: put it back until they end."""
        zone = self.zones.get(row.city or "")
        if zone is None:
            return False
        allowed = next_allowed(now, zone, self.config.quiet_hours_of(row.city or "").span())
        if allowed > now:
            later.setdefault(allowed, []).append(row.id)
            return True
        return False

    def _mark_sending(self, ids: list[int]) -> set[int]:
        with self.sessions.begin() as session:
            return queue.mark_sending(session, ids, self.worker)

    def _settle(self, results: list[tuple[Claimed, Sent | Flooded]]) -> None:
        now = self.clock()
        outcomes: list[tuple[int, str]] = []
        retry: list[Claimed] = []
        flooded: dict[datetime, list[int]] = {}
        for row, sent in results:
            if isinstance(sent, Flooded):
                # Refused, so certainly not sent: back in the queue, marked as waiting for
                # Telegram's limit, rather than held as "sending" while the wait lasts.
                flooded.setdefault(now + timedelta(seconds=sent.retry_after), []).append(row.id)
            elif sent is Sent.SENT or sent is Sent.UNCERTAIN:
                # An uncertain one may have arrived: counted as sent, never sent again.
                outcomes.append((row.id, "sent"))
            elif sent is Sent.BLOCKED:
                outcomes.append((row.id, "blocked"))
            elif sent is Sent.REFUSED:
                outcomes.append((row.id, "failed"))
            else:
                retry.append(row)
        with self.sessions.begin() as session:
            queue.settle(session, outcomes, now)
            for due, ids in flooded.items():
                queue.release(session, ids, due, "telegram_limit", attempt_counted=False)
            for row in retry:
                attempts = queue.attempts_of(session, row.id)
                if attempts >= MAX_ATTEMPTS:
                    queue.settle(session, [(row.id, "failed")], now)
                else:
                    pause = self.settings.first_retry * (2 ** max(attempts - 1, 0))
                    queue.release(session, [row.id], now + pause, "unreachable")
        for row, sent in results:
            if sent is Sent.BLOCKED and row.address is not None:
                try:
                    self.mark_stopped(row.address)
                except Exception:
                    log.exception("could not mark a participant who blocked the bot as stopped")

    # -- loops -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Every worker's share of the broadcasting, until cancelled; a failed round is retried."""
        loop = asyncio.get_running_loop()
        while True:
            handled = 0
            try:
                if self._planned_at is None or loop.time() - self._planned_at >= self.settings.plan_every:
                    self._planned_at = loop.time()
                    await asyncio.to_thread(self.planner.plan)
                handled = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broadcast round failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
            if not handled:
                # Nothing due: rows come due with the next plan (this worker's, or another's that
                # this one then shares), or by time (quiet hours over, a retry, a dead sender's
                # lease), which can wait that long; looking more often would cost every idle worker
                # a transaction every few seconds for nothing.
                next_plan = self.settings.plan_every - (loop.time() - (self._planned_at or loop.time()))
                await asyncio.sleep(max(self.settings.idle_pause, next_plan))



@dataclass(frozen=True)
class Progress:
    """A campaign's messages by where they are. Only `sent` means Telegram took one, and a sent
    message stays sent: the figures built on it never go down while a broadcast runs, whatever
    Telegram refuses on the way; what is not sent yet is told apart by what it waits for."""

    counts: dict[str, int]
    next_due: datetime | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def sent(self) -> int:
        return self.counts.get("sent", 0)

    @property
    def sending(self) -> int:
        """Taken by a worker: waiting for its slot in the rate, or on its way to Telegram."""
        return self.counts.get("claimed", 0) + self.counts.get("sending", 0)

    @property
    def telegram_limit(self) -> int:
        """Refused by Telegram's flood limit: they go again when Telegram's wait is over."""
        return self.counts.get("telegram_limit", 0)

    @property
    def unreachable(self) -> int:
        """Telegram could not be reached: tried again after a pause."""
        return self.counts.get("unreachable", 0)

    @property
    def queued(self) -> int:
        """Not tried yet: due now, or later (the opening time, the end of the quiet hours)."""
        return self.counts.get("queued", 0)

    @property
    def waiting(self) -> int:
        """What a worker will still pick up by itself: the broadcast is under way while some are.

        A row already `sending` is not among them: it is settled in a moment, or, its sender
        killed in that moment, never sent again."""
        return self.queued + self.counts.get("claimed", 0) + self.telegram_limit + self.unreachable

    @property
    def done(self) -> int:
        return self.total - self.waiting


def progress_of(sessions: sessionmaker[Session], campaign_id: str) -> Progress:
    with sessions() as session:
        return Progress(queue.counts(session, campaign_id), queue.next_due(session, campaign_id))

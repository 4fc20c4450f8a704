"""Councils' digests end to end: which are due, building them from the database's aggregates,
queueing them once, and delivering them until they are out.

Safe with several workers or runs at once: a digest is queued under a unique (council, period,
channel) key, and delivered by whoever claims it (a conditional update), one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig, CouncilConfig
from digests.builder import CouncilView, build_digest
from digests.delivery import (
    DeliveryFailed,
    OutboxWriter,
    PartialDelivery,
    SmtpSender,
    TelegramBot,
    send_to_telegram,
    telegram_payload,
)
from digests.model import Digest
from digests.periods import Period, weekly_period
from digests.render import Rendered, email_message, render
from digests.wording import say
from storage import campaign_store, council_replies, digest_store, reports
from storage.digest_store import QueuedDigest

log = logging.getLogger(__name__)

# A worker delivering a digest keeps it this long before another may try.
LEASE = timedelta(minutes=10)
# Waits between attempts when a server refuses or is down: never given up, never faster than this.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
ROUND_EVERY_S = 60.0
# A campaign closed longer ago than this gets no digest of its own (e.g. a council added later).
CLOSE_LOOKBACK = timedelta(days=14)


class UnknownCouncilError(LookupError):
    pass


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DigestService:
    config: AppConfig
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime] = utc_now
    smtp: SmtpSender | None = None
    outbox: OutboxWriter = field(default_factory=lambda: OutboxWriter(Path("var/outbox")))
    # Builds a Telegram bot for a round of deliveries (None: no token, Telegram digests wait).
    telegram: Callable[[], TelegramBot] | None = None
    # Campaigns in the order the configuration offers them: the digest's order of questions.
    campaign_ids: tuple[str, ...] = ()

    # What to build

    def council(self, council_id: str) -> CouncilConfig:
        council = self.config.council(council_id)
        if council is None:
            known = ", ".join(c.id for c in self.config.councils) or "none configured"
            raise UnknownCouncilError(f"no council {council_id!r} in the configuration (known: {known})")
        return council

    def zone(self, council: CouncilConfig) -> ZoneInfo:
        city = self.config.city(council.city)
        assert city is not None
        return ZoneInfo(city.timezone)

    def default_period(self, council: CouncilConfig) -> Period:
        """The last scheduled week, or the last seven days for a council without a weekly digest."""
        now = self.clock()
        weekly = council.schedule.weekly
        if weekly is not None:
            return weekly_period(now, self.zone(council), weekly.day, weekly.time)
        end = now.astimezone(self.zone(council))
        return Period(end - timedelta(days=7), end)

    def view(self, council: CouncilConfig) -> CouncilView:
        city = self.config.city(council.city)
        assert city is not None
        language = council.language
        bands = tuple((band.id, band.id.replace("-", "–"))
                      for band in sorted(self.config.age_bands, key=lambda b: b.min))
        places = tuple((place.id, getattr(place.name, language)) for place in city.neighbourhoods)
        city_name = getattr(city.name, language)
        return CouncilView(council_id=council.id, council_name=say(language, "council_of", city=city_name),
                           city_name=city_name, language=language, min_cell_size=council.min_cell_size,
                           age_bands=bands, neighbourhoods=places)

    def build(self, council: CouncilConfig, period: Period) -> Digest:
        """The digest of a council for a period, from GROUP BY aggregates of this and the previous period."""
        utc, before = period.utc(), period.previous().utc()
        with self.sessions() as session:
            current = reports.city_aggregates(session, council.city, utc.start, utc.end)
            quotes = reports.quote_candidates(session, council.city, utc.start, utc.end)
            # A reply made this period or the one before: the digests that follow it say how far it went.
            reached = council_replies.latest_reach(session, council.id, before.start, utc.end)
            previous = reports.city_aggregates(session, council.city, before.start, before.end)
            ordered = list(self.campaign_ids)
            present = {q[0] for q, _ in current.answered} | {q[0] for q in current.skipped}
            stored = reports.campaign_definitions(session, present | set(ordered))
        definitions = {cid: stored[cid] for cid in [*ordered, *sorted(stored)] if cid in stored}
        return build_digest(self.view(council), current, previous if previous.answers else None,
                            definitions, start=period.start, end=period.end, generated_at=self.clock(),
                            quotes=quotes, reply_reached=reached)

    # Preview

    def preview(self, council_id: str, period: Period | None, folder: Path) -> dict[str, Path]:
        """Write the digest as HTML (charts inside), text and CSV into ``folder``; send nothing."""
        council = self.council(council_id)
        rendered = render(self.build(council, period or self.default_period(council)))
        folder.mkdir(parents=True, exist_ok=True)
        written = {"html": folder / f"{rendered.filename}.html", "text": folder / f"{rendered.filename}.txt",
                   "csv": folder / f"{rendered.filename}.csv"}
        written["html"].write_text(rendered.html_file, encoding="utf-8")
        written["text"].write_text(rendered.text, encoding="utf-8")
        written["csv"].write_text(rendered.csv, encoding="utf-8")
        return written

    # Queueing

    def channels(self, council: CouncilConfig) -> list[str]:
        found = []
        if council.recipients.email:
            found.append("email" if self.smtp is not None else "outbox")
        if council.recipients.telegram_chat_id is not None:
            found.append("telegram")
        return found

    def queue(self, council: CouncilConfig, period: Period) -> list[str]:
        """Build the council's digest for the period and queue it on each of its channels, unless
        it is already queued there. Returns the channels queued now."""
        utc = period.utc()
        channels = self.channels(council)
        with self.sessions() as session:
            if digest_store.digest_known(session, council.id, utc.start, utc.end):
                return []
        digest = self.build(council, period)
        rendered = render(digest)
        summary = {"subject": rendered.subject, "participants": digest.participants.count,
                   "answers": digest.answers, "name": rendered.filename}
        queued = []
        now = self.clock()
        with self.sessions.begin() as session:
            for channel in channels:
                content = self._content(channel, council, rendered)
                if digest_store.queue_digest(session, council.id, utc.start, utc.end, channel, content,
                                             summary, now):
                    queued.append(channel)
        if queued:
            log.info("digest %s for %s queued on %s", rendered.filename, council.id, ", ".join(queued))
        return queued

    def _content(self, channel: str, council: CouncilConfig, rendered: Rendered) -> bytes:
        if channel == "telegram":
            return telegram_payload(rendered.telegram_text, [(c.title, c.png) for c in rendered.charts])
        message = email_message(rendered, self.config.email.sender, council.recipients.email,
                                rendered.filename)
        return bytes(message)

    def queue_due(self) -> int:
        """Queue every council's weekly digest whose moment has come and that is not queued yet, and
        one for each campaign answered in its city that closed since."""
        count = 0
        for council in self.config.councils:
            if council.schedule.weekly is not None:
                count += bool(self.queue(council, self.default_period(council)))
        return count + self.queue_closed_campaigns()

    def queue_closed_campaigns(self) -> int:
        """A digest per council and campaign closed in the last two weeks and answered in its city,
        from the council's previous digest (at most a week back) to the moment it closed."""
        now = self.clock()
        with self.sessions() as session:
            closed = [run for run in campaign_store.runs(session)
                      if run.closed_at is not None and now - CLOSE_LOOKBACK <= run.closed_at <= now]
        count = 0
        for council in self.config.councils:
            if not council.schedule.on_campaign_close:
                continue
            for run in closed:
                assert run.closed_at is not None
                with self.sessions() as session:
                    if not reports.answered_in(session, run.campaign_id, council.city):
                        continue
                    previous = digest_store.last_period_end(session, council.id, run.closed_at)
                week_before = run.closed_at - timedelta(days=7)
                start = max(previous or week_before, week_before)
                zone = self.zone(council)
                period = Period(start.astimezone(zone), run.closed_at.astimezone(zone))
                count += bool(self.queue(council, period))
        return count

    # Delivery

    def deliver_due(self) -> int:
        """Deliver what is queued and due; what fails waits for its next try. Returns how many went out."""
        now = self.clock()
        with self.sessions.begin() as session:
            claimed = digest_store.claim_due_digests(session, now, now + LEASE)
        delivered = 0
        for item in claimed:
            delivered += self._deliver(item)
        return delivered

    def _deliver(self, item: QueuedDigest) -> bool:
        progress = item.progress
        try:
            if item.channel == "email":
                if self.smtp is None:
                    raise DeliveryFailed("no SMTP server configured any more: the digest waits for one")
                message = message_from_bytes(item.content, policy=policy.default)
                assert isinstance(message, EmailMessage)
                self.smtp.send(message)
                log.info("digest %s sent by email", item.summary.get("name"))
            elif item.channel == "outbox":
                eml, html = self.outbox.write(str(item.summary.get("name")), item.content)
                log.warning("no SMTP server configured: digest for %s written to %s and %s",
                            item.council_id, eml, html)
            else:
                progress = self._telegram(item)
        except PartialDelivery as exc:
            return self._later(item, str(exc), exc.sent)
        except DeliveryFailed as exc:
            return self._later(item, str(exc), progress)
        with self.sessions.begin() as session:
            digest_store.mark_digest_sent(session, item.id, self.clock())
        return True

    def _telegram(self, item: QueuedDigest) -> int:
        council = self.council(item.council_id)
        chat_id = council.recipients.telegram_chat_id
        if self.telegram is None or chat_id is None:
            raise DeliveryFailed("no Telegram bot token: the digest waits for one")
        factory = self.telegram

        async def send() -> int:
            async with factory() as bot:
                return await send_to_telegram(bot, chat_id, item.content, item.progress)

        sent = asyncio.run(send())
        log.info("digest %s sent to Telegram chat %s", item.summary.get("name"), chat_id)
        return sent

    def _later(self, item: QueuedDigest, error: str, progress: int) -> bool:
        attempts = item.attempts + 1
        wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
        log.warning("digest %s (%s) not delivered, attempt %d, next in %s: %s",
                    item.summary.get("name"), item.channel, attempts, wait, error)
        with self.sessions.begin() as session:
            digest_store.retry_digest_later(session, item.id, self.clock() + wait, attempts, error, progress)
        return False

    def round(self) -> None:
        """One scheduler round: queue what is due, deliver what is queued."""
        self.queue_due()
        self.deliver_due()


class DigestLoop:
    """The running bot's scheduler for digests (a background thread, like the NLU backfill)."""

    def __init__(self, service: DigestService, every: float = ROUND_EVERY_S) -> None:
        self.service = service
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digests", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            try:
                self.service.round()
            except Exception:
                # A database or server outage must not end the loop: the next round tries again.
                log.exception("digest round failed")
            if self._stop.wait(self.every):
                return

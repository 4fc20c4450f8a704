"""Safeguarding alerts on their way to staff, and staff replies on their way to the young person.

Every message about an alert is a row (storage/safeguarding.py) until it is delivered: when the
staff chat or the mail server is down it waits and is tried again, with growing pauses, for as long
as it takes. Nothing here logs a message's text: only the alert's reference.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.engine.community import Community
from bot.engine.texts import Catalog
from bot.mail import Mailer
from storage import safeguarding as alerts_repo
from storage.safeguarding import Destination, DueDelivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(minutes=15)

# A delivery's outcome, as the alert's history keeps it (English, like the command line's); the
# console words them in its reader's language from these same patterns.
RELAYED = "reply relayed to the young person"
NOT_RELAYED_ERASED = "reply not relayed: the young person erased their data"
NOT_RELAYED_UNREACHABLE = "reply not relayed: the young person cannot be reached ({reason})"
TO_TELEGRAM = "alert delivered to Telegram chat {address}"
TO_EMAIL = "alert delivered to {address}"

# (channel, chat id or staff chat id, text): raises when the message could not be sent.
SendChat = Callable[[str, str, str], Awaitable[None]]


class Unreachable(Exception):
    """The young person can no longer be reached on their channel (blocked the bot, erased)."""


def routing(community: Community, contacts: dict[str, list[Destination]]) -> Callable[
        [str | None], list[Destination]]:
    """Alerts go to the partners serving the city; before the city is known, to every partner."""

    def route(city: str | None) -> list[Destination]:
        serving = [p.id for p in community.partners if city in p.cities] if city else []
        chosen = serving or list(contacts)
        return [d for partner in chosen for d in contacts.get(partner, [])]

    return route


def unserved_cities(community: Community, contacts: dict[str, list[Destination]]) -> list[str]:
    """Cities that no partner with a safeguarding contact serves: their alerts go to every
    partner's staff, who may not know the city's services."""
    served = {city for p in community.partners if contacts.get(p.id) for city in p.cities}
    return [city.id for city in community.cities if city.id not in served]


def retry_after(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    wait: timedelta = first * (2 ** min(attempts, 10))
    return min(wait, LONGEST_RETRY)


class AlertDispatcher:
    def __init__(self, sessions: sessionmaker[Session], community: Community, catalog: Catalog,
                 clock: Callable[[], datetime], mailer: Mailer | None, language: str) -> None:
        self.sessions = sessions
        self.community = community
        self.catalog = catalog
        self.clock = clock
        self.mailer = mailer
        # Staff read alerts in the deployment's default language.
        self.language = language
        # The first pause after a failed delivery; each further failure doubles it.
        self.first_retry = FIRST_RETRY

    def staff_text(self, ref: str, alert_id: int) -> tuple[str, str]:
        """Subject and body of a staff alert, read from the alert as it is now (scrubbed when its
        retention period is over)."""
        with self.sessions() as session:
            row = alerts_repo.alert(session, ref)
            assert row is not None and row.id == alert_id
            city = self.community.city(row.city)

            def tr(message: str) -> str:
                return self.catalog.gettext(self.language, message)

            subject = tr("YouthVoice safeguarding alert {ref}").format(ref=ref)
            body = "\n".join([
                subject,
                tr("Category: {category}").format(category=", ".join(row.categories)),
                tr("City: {city}").format(city=city.name.in_(self.language) if city else "?"),
                tr("Language: {language}").format(language=row.language),
                tr("Message: {message}").format(message=row.message or row.scrubbed),
                "",
                tr("The young person was given the helplines for their city. Follow up with:"),
                f"  youthvoice safeguarding show {ref}",
                f"  youthvoice safeguarding reply {ref} \"...\"",
            ])
        return subject, body

    async def round(self, send_chat: SendChat) -> int:
        """Deliver what is due; returns how many were delivered."""
        now = self.clock()
        due = await asyncio.to_thread(self._claim, now)
        done = 0
        for delivery in due:
            try:
                outcome = await self._deliver(delivery, send_chat)
            except Exception as exc:
                wait = retry_after(delivery.attempts, self.first_retry)
                log.warning("safeguarding %s: %s delivery failed (attempt %d), retrying in %s: %s",
                            delivery.ref, delivery.kind, delivery.attempts + 1, wait,
                            type(exc).__name__)
                await asyncio.to_thread(self._retry, delivery.id, self.clock() + wait,
                                        f"{type(exc).__name__}: {exc}")
                continue
            await asyncio.to_thread(self._delivered, delivery, outcome)
            log.info("safeguarding %s: %s", delivery.ref, outcome)
            done += 1
        return done

    async def _deliver(self, delivery: DueDelivery, send_chat: SendChat) -> str:
        if delivery.kind == "participant":
            address = await asyncio.to_thread(self._participant, delivery.alert_id)
            if address is None:
                return NOT_RELAYED_ERASED
            try:
                await send_chat(address[0], address[1], delivery.text or "")
            except Unreachable as exc:
                return NOT_RELAYED_UNREACHABLE.format(reason=exc)
            return RELAYED
        subject, body = await asyncio.to_thread(self.staff_text, delivery.ref, delivery.alert_id)
        if delivery.kind == "telegram":
            await send_chat("telegram", delivery.address, body)
            return TO_TELEGRAM.format(address=delivery.address)
        if self.mailer is None:
            raise RuntimeError("no SMTP server configured (email.smtp in config.yml)")
        await asyncio.to_thread(self.mailer.send, delivery.address, subject, body)
        return TO_EMAIL.format(address=delivery.address)

    def _claim(self, now: datetime) -> list[DueDelivery]:
        with self.sessions.begin() as session:
            return alerts_repo.claim_due(session, now, now + LEASE)

    def _retry(self, delivery_id: int, due_at: datetime, error: str) -> None:
        with self.sessions.begin() as session:
            alerts_repo.retry_later(session, delivery_id, due_at, error)

    def _delivered(self, delivery: DueDelivery, outcome: str) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            alerts_repo.delivered(session, delivery.id, now)
            alerts_repo.record_step(session, delivery.alert_id, "bot", "delivered", now, outcome)

    def _participant(self, alert_id: int) -> tuple[str, str] | None:
        with self.sessions() as session:
            return alerts_repo.participant_address(session, alert_id)

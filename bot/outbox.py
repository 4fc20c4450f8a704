"""Replies kept until delivered: a network outage or a crash delays a reply, it does not lose it.

The turn queues its reply in the same transaction as the answer it follows. The channel delivers it
at once and reports it delivered; removals are batched (one commit every few seconds, not one per
turn). A reply the channel could not deliver is retried later with growing pauses by whichever
worker claims it first, including one restarted after a crash (at-least-once: a crash between
sending and the batched removal can repeat a reply, never drop one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.engine.messages import Choice, Outbound
from storage import repositories as repo
from storage.records import QueuedReply

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1
# How long the worker that queued or claimed a reply has to deliver it before others may: longer
# than a delivery can take through Telegram's flood waits (the rate limiter and the channel each
# wait them out a few times), so a slow delivery is not taken over and sent twice.
LEASE = timedelta(minutes=10)
FIRST_RETRY = timedelta(seconds=15)
LONGEST_PAUSE = timedelta(minutes=10)
# A question days late is still worth asking; after this it is not, and the next turn re-asks.
GIVE_UP_AFTER = timedelta(days=3)


def payload_of(context: dict[str, Any], acknowledgement: str | None,
               outbound: tuple[Outbound, ...]) -> dict[str, Any]:
    """A turn's reply as JSON: the channel's own context (e.g. which message was pressed) and texts."""
    return {
        "v": PAYLOAD_VERSION,
        "context": context,
        "acknowledgement": acknowledgement,
        "messages": [{"text": m.text, "choices": [[c.label, c.data] for c in m.choices],
                      "replace": m.replace, "expects_text": m.expects_text} for m in outbound],
        "done": 0,
    }


def outbound_of(payload: dict[str, Any]) -> tuple[Outbound, ...]:
    return tuple(Outbound(m["text"], tuple(Choice(label, data) for label, data in m["choices"]),
                          replace=m["replace"], expects_text=m["expects_text"])
                 for m in payload["messages"])


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime], *,
                 first_retry: timedelta = FIRST_RETRY, longest_pause: timedelta = LONGEST_PAUSE) -> None:
        self.sessions = sessions
        self.clock = clock
        self.first_retry = first_retry
        self.longest_pause = longest_pause
        self._delivered: list[int] = []
        self._lock = threading.Lock()

    def delivered(self, reply_id: int) -> None:
        """Delivered (or refused for good): removed at the next flush."""
        with self._lock:
            self._delivered.append(reply_id)

    def flush(self) -> int:
        """Remove what was delivered since the last flush; kept for the next one if the database fails."""
        with self._lock:
            done, self._delivered = self._delivered, []
        if not done:
            return 0
        try:
            with self.sessions.begin() as session:
                return repo.forget_replies(session, done)
        except Exception:
            with self._lock:
                self._delivered[:0] = done
            raise

    def retry_later(self, reply_id: int, payload: dict[str, Any], attempts: int) -> None:
        """Not delivered now: try again after a pause, from where it stopped (``payload["done"]``)."""
        pause = self.pause_after(attempts)
        with self.sessions.begin() as session:
            repo.retry_reply_later(session, reply_id, payload, self.clock() + pause, attempts)
        log.info("reply %d not delivered (attempt %d): next try in %s", reply_id, attempts, pause)

    def pause_after(self, attempts: int) -> timedelta:
        """15 s, 30 s, 1 min, ... at most 10 min between two tries."""
        return min(self.first_retry * (1 << min(max(attempts - 1, 0), 10)), self.longest_pause)

    def claim_due(self, channel: str, limit: int = 50) -> list[QueuedReply]:
        """Replies due for another try, claimed for this worker; those too old are given up."""
        now = self.clock()
        with self.sessions.begin() as session:
            due: list[QueuedReply] = []
            stale: list[int] = []
            for reply in repo.claim_due_replies(session, channel, now, now + LEASE, limit):
                if now - reply.created_at > GIVE_UP_AFTER:
                    stale.append(reply.id)
                else:
                    due.append(reply)
            if stale:
                log.error("giving up %d replies undelivered for %s", len(stale), GIVE_UP_AFTER)
                repo.forget_replies(session, stale)
        return due

    def still_pending(self, reply_id: int) -> bool:
        """False once a newer reply to the same chat has replaced it."""
        with self.sessions.begin() as session:
            return repo.reply_exists(session, reply_id)

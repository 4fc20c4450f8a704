"""Replies kept until delivered: a network outage or a crash delays a reply, it does not lose it.

The turn queues its reply in the same transaction as the answer it follows, leased for a few seconds
to the worker that ran the turn. That worker delivers it at once, renewing the lease while it holds
the reply, and reports it delivered. Under load no commit of its own per reply: the removal rides
on the next turn's statement that replaces its chat's older reply (any chat's turn on this worker);
a quiet worker removes it a quarter of a second after the delivery, so a crash right after a
delivery rarely leaves a reply behind to be sent again. If the worker dies, its leases run out
within seconds and any worker (or the restarted one) takes the reply over. A reply the channel
could not deliver is retried later with growing pauses.

A reply is only ever sent while it is current: still the latest for its chat (a newer turn replaces
it) and made for the conversation state that is stored now. One the conversation has moved past
is dropped, so nobody sees an old question after a newer one, and a reply delivered just before a
crash, not yet removed, is not sent again once the person has answered it.
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
# How long a reply stays with the worker that queued or claimed it without news from that worker.
# The worker renews the leases of the replies it holds every few seconds (renew_every), however
# long a delivery takes; a dead worker's replies are taken over this long after its last renewal.
LEASE = timedelta(seconds=10)
FIRST_RETRY = timedelta(seconds=15)
LONGEST_PAUSE = timedelta(minutes=10)
# A question days late is still worth asking; after this it is not, and the next turn re-asks.
GIVE_UP_AFTER = timedelta(days=3)


def payload_of(context: dict[str, Any], acknowledgement: str | None,
               outbound: tuple[Outbound, ...], buttons_at: int | None = None,
               closes: bool = False) -> dict[str, Any]:
    """A turn's reply as JSON: the channel's own context (e.g. which message was pressed) and texts.

    ``buttons_at``: the chat's last message with live buttons as stored when the turn ran.
    ``closes``: the turn ended what earlier buttons answer (a finished survey, /stop): they go.
    """
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "context": context,
        "buttons_at": buttons_at,
        "acknowledgement": acknowledgement,
        "messages": [{"text": m.text, "choices": [[c.label, c.data] for c in m.choices],
                      "replace": m.replace, "expects_text": m.expects_text} for m in outbound],
        "done": 0,
    }
    if closes:
        payload["closes"] = True
    return payload


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
        # Per channel and chat, its last message with live buttons, to record at the next flush.
        self._buttons: dict[str, dict[str, tuple[int, bool]]] = {}
        # Replies this worker is delivering, or delivered and not yet removed: their leases are renewed.
        self._held: set[int] = set()
        self._lock = threading.Lock()

    def hold(self, reply_id: int) -> None:
        with self._lock:
            self._held.add(reply_id)

    def delivered(self, reply_id: int) -> None:
        """Delivered (or refused for good, or out of date): removed with the next turn's reply, or
        at the next flush, whichever comes first."""
        with self._lock:
            self._delivered.append(reply_id)

    def buttons(self, channel: str, address: str, message_id: int, live: bool) -> None:
        """This message of the chat now has live buttons (or no longer has); recorded at the next
        flush, for whichever worker handles the chat's next message."""
        with self._lock:
            self._buttons.setdefault(channel, {})[address] = (message_id, live)

    def has_delivered(self) -> bool:
        return bool(self._delivered)

    def take_delivered(self) -> list[int]:
        """For a turn's transaction to remove (its reply replaces older ones in the same statement):
        then ``forgotten`` once committed, or ``put_back`` if it was not."""
        with self._lock:
            done, self._delivered = self._delivered, []
        return done

    def forgotten(self, reply_ids: list[int]) -> None:
        if reply_ids:
            with self._lock:
                self._held.difference_update(reply_ids)

    def put_back(self, reply_ids: list[int]) -> None:
        if reply_ids:
            with self._lock:
                self._delivered[:0] = reply_ids

    def flush(self) -> int:
        """Remove what was delivered since the last flush, and record which buttons are live; kept
        for the next one if the database fails."""
        with self._lock:
            done, self._delivered = self._delivered, []
            buttons, self._buttons = self._buttons, {}
        if not done and not buttons:
            return 0
        try:
            with self.sessions.begin() as session:
                removed = repo.forget_replies(session, done)
                for channel, chats in buttons.items():
                    repo.record_buttons(session, channel, chats)
        except Exception:
            with self._lock:
                self._delivered[:0] = done
                for channel, chats in buttons.items():
                    # Newer news from the meantime wins.
                    self._buttons[channel] = {**chats, **self._buttons.get(channel, {})}
            raise
        with self._lock:
            self._held.difference_update(done)
        return removed

    def renew(self) -> int:
        """Extend the leases of every reply this worker holds; returns how many."""
        with self._lock:
            held = list(self._held)
        if not held:
            return 0
        with self.sessions.begin() as session:
            return repo.extend_reply_leases(session, held, self.clock() + LEASE)

    def retry_later(self, reply_id: int, payload: dict[str, Any], attempts: int) -> None:
        """Not delivered now: try again after a pause, from where it stopped (``payload["done"]``)."""
        pause = self.pause_after(attempts)
        with self.sessions.begin() as session:
            repo.retry_reply_later(session, reply_id, payload, self.clock() + pause, attempts)
        with self._lock:
            self._held.discard(reply_id)
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
        with self._lock:
            self._held.update(reply.id for reply in due)
        return due

    def is_current(self, reply_id: int) -> bool:
        """Still the chat's latest reply, made for the conversation state stored now."""
        with self.sessions.begin() as session:
            return repo.reply_is_current(session, reply_id)

"""Free-text understanding for the bot: which NLU server to ask, asking it, and catching up later.

The bot never waits for the NLU to exist: it starts answering at once, free text typed while the
server is down or still loading is stored as typed with a pending mark, and `backfill` classifies it
once the server answers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.engine.understanding import Understanding, mentions_of, topic_of
from nlu.client import NluClient, SyncNluClient
from nlu.runtime import NluService, supervise
from nlu.venv import is_installed
from storage import repositories as repo

log = logging.getLogger(__name__)

# Short: a participant waits for the reply, and buttons must keep working when the NLU is slow.
PARSE_TIMEOUT = 0.8
BACKFILL_BATCH = 50
BACKFILL_EVERY = 300.0


class Understander:
    """Asks the NLU server at `url` (which may be set later, once a server is up)."""

    def __init__(self, url: str | None = None, timeout: float = PARSE_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._client: NluClient | None = None

    async def __call__(self, text: str) -> Understanding | None:
        if self.url is None:
            return None
        if self._client is None or self._client.base_url != self.url.rstrip("/"):
            # The server's address is known late when this process starts the server itself.
            await self.aclose()
            self._client = NluClient(self.url, self.timeout)
        return await self._client.parse(text)

    async def aclose(self) -> None:
        """Close the HTTP client; it belongs to the event loop that made it."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass
class NluStarter:
    """Brings a supervised Rasa server up in the background and points the Understander at it."""

    root: Path
    understander: Understander
    # Install Rasa and train when needed (the Telegram bot); otherwise only use what is ready.
    prepare: bool
    service: NluService | None = None
    error: str | None = None

    def start(self) -> threading.Thread | None:
        if not self.prepare and not is_installed(self.root):
            log.info("NLU not set up (`youthvoice nlu train`): free text is kept for later reading")
            return None
        thread = threading.Thread(target=self._run, name="nlu-starter", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        try:
            self.service = supervise(self.root, wait=False)
        except Exception as exc:
            # The bot goes on without NLU: matching by labels and synonyms still works.
            self.error = str(exc)
            log.warning("NLU unavailable, going on without it: %s", exc)
            return
        self.understander.url = self.service.url

    def stop(self) -> None:
        if self.service is not None:
            self.service.close()


def backfill(sessions: sessionmaker[Session], client: SyncNluClient, limit: int = BACKFILL_BATCH) -> int:
    """Classify free-text answers stored while the NLU was unavailable; return how many were done.

    Stops at the first answer the NLU cannot read (it is down again): those stay pending.
    """
    done = 0
    with sessions.begin() as session:
        for answer in repo.answers_pending_understanding(session, limit):
            text = (answer.text or "").strip()
            understanding = client.parse(text) if text else None
            if text and understanding is None:
                break
            topic, confidence = topic_of(understanding)
            if repo.set_answer_topic(session, answer.id, topic, confidence,
                                     mentions_of(understanding)):
                done += 1
    return done


class BackfillLoop:
    """Every few minutes, classify what was typed while the NLU was down (a background thread)."""

    def __init__(self, sessions: sessionmaker[Session], understander: Understander,
                 every: float = BACKFILL_EVERY) -> None:
        self.sessions = sessions
        self.understander = understander
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nlu-backfill", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            url = self.understander.url
            if url is None:
                continue
            try:
                with SyncNluClient(url, timeout=5.0) as client:
                    while (done := backfill(self.sessions, client)) == BACKFILL_BATCH:
                        log.info("classified %d pending answers", done)
            except Exception:
                # A database outage must not end the loop: the next round tries again.
                log.exception("backfill round failed")


"""Results of a city's campaigns for the console and the public pages: the digest's own builder over
the city's GROUP BY aggregates, so small cells are suppressed exactly as in the councils' digests."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from digests.builder import CouncilView, build_digest
from digests.model import Digest
from digests.wording import say
from storage import reports
from storage import result_snapshots as snapshots
from storage.reports import CityAggregates

# Results cover every answer ever given in the city: the start of time, for the aggregates.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MIN_CELL_SIZE = 5
# While answers arrive, the pages show figures at most this old (and say when they were counted).
REFRESH_EVERY = timedelta(minutes=1)

log = logging.getLogger(__name__)


def view_of(config: AppConfig, city_id: str, language: str) -> CouncilView:
    """The city as a reader of ``language`` sees it, with its council's minimum cell size."""
    city = config.city(city_id)
    if city is None:
        raise LookupError(city_id)
    council = next((c for c in config.councils if c.city == city_id), None)
    city_name = getattr(city.name, language)
    bands = tuple((band.id, band.id.replace("-", "–"))
                  for band in sorted(config.age_bands, key=lambda b: b.min))
    places = tuple((place.id, getattr(place.name, language)) for place in city.neighbourhoods)
    return CouncilView(council_id=council.id if council else city_id,
                       council_name=say(language, "council_of", city=city_name), city_name=city_name,
                       language=language,
                       min_cell_size=council.min_cell_size if council else DEFAULT_MIN_CELL_SIZE,
                       age_bands=bands, neighbourhoods=places)


def city_results(session: Session, config: AppConfig, city_id: str, language: str, now: datetime,
                 campaign_ids: Sequence[str] | None = None) -> Digest:
    """Every answer of the city so far, as a digest: of the given campaigns only, when named.
    Counted afresh: the pages read them through `ResultsCache`."""
    aggregates = reports.city_aggregates(session, city_id, BEGINNING, now, campaign_ids)
    return _digest(session, config, city_id, language, aggregates, campaign_ids, now)


def _digest(session: Session, config: AppConfig, city_id: str, language: str, aggregates: CityAggregates,
            campaign_ids: Sequence[str] | None, computed_at: datetime) -> Digest:
    present = set(aggregates.participants_by_campaign)
    wanted = sorted(present) if campaign_ids is None else [c for c in campaign_ids if c in present]
    definitions = reports.campaign_definitions(session, wanted)
    digest = build_digest(view_of(config, city_id, language), aggregates, None,
                          {cid: definitions[cid] for cid in wanted if cid in definitions},
                          start=BEGINNING, end=computed_at, generated_at=computed_at)
    if campaign_ids is None:
        return digest
    kept = set(wanted)
    return dataclasses.replace(digest, campaigns=tuple(c for c in digest.campaigns if c.campaign_id in kept))


class ResultsCache:
    """The results pages' figures without counting every answer on every request.

    The city's aggregates are kept in the database (storage.result_snapshots). A page uses them as
    they are when no answer arrived since; when answers did arrive, figures up to `refresh` old are
    still shown while one background thread counts again; campaigns that all closed before their
    figures were counted never change again (late answers are not kept). Only the very first view
    of a city's campaigns counts while the reader waits. The digest is built from them on every
    request, by the digests' own builder: suppression is exactly the digests'.
    """

    def __init__(self, sessions: sessionmaker[Session], config: AppConfig, *,
                 refresh: timedelta = REFRESH_EVERY, background: bool = True) -> None:
        self.sessions = sessions
        self.config = config
        self.refresh = refresh
        self.background = background
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], threading.Thread] = {}
        # (city, campaigns, language): the digest last built, reused while its counts are current.
        self._digests: dict[tuple[str, str, str], Digest] = {}

    def results(self, session: Session, city_id: str, language: str, now: datetime,
                campaign_ids: Sequence[str] | None = None, closed_at: datetime | None = None) -> Digest:
        """`closed_at`: when the last of these campaigns closed, if all are closed."""
        key = snapshots.key_of(campaign_ids)
        kept = snapshots.head(session, city_id, key)
        if kept is None:
            aggregates = self._count(session, city_id, campaign_ids, key, now)
            return self._built(session, city_id, key, language, campaign_ids, aggregates)
        mark, counted_at = kept
        fresh = ((closed_at is not None and counted_at >= closed_at) or now - counted_at < self.refresh
                 or mark >= snapshots.answer_mark(session))
        if not fresh and not self.background:
            aggregates = self._count(session, city_id, campaign_ids, key, now)
            return self._built(session, city_id, key, language, campaign_ids, aggregates)
        if not fresh:
            self._count_later(city_id, campaign_ids, key, now)
        # The digest built from these very counts, when a reader of this language saw them already.
        with self._lock:
            built = self._digests.get((city_id, key, language))
        if built is not None and built.generated_at == counted_at:
            return built
        snapshot = snapshots.load(session, city_id, key)
        assert snapshot is not None
        return self._built(session, city_id, key, language, campaign_ids, snapshot.aggregates)

    def _built(self, session: Session, city_id: str, key: str, language: str,
               campaign_ids: Sequence[str] | None, aggregates: CityAggregates) -> Digest:
        digest = _digest(session, self.config, city_id, language, aggregates, campaign_ids, aggregates.end)
        with self._lock:
            self._digests[(city_id, key, language)] = digest
        return digest

    def _count(self, session: Session, city_id: str, campaign_ids: Sequence[str] | None, key: str,
               now: datetime) -> CityAggregates:
        # The mark first: an answer stored while counting makes the snapshot stale, never lost.
        mark = snapshots.answer_mark(session)
        aggregates = reports.city_aggregates(session, city_id, BEGINNING, now, campaign_ids)
        snapshots.save(session, city_id, key, aggregates, mark, now)
        return aggregates

    def _count_later(self, city_id: str, campaign_ids: Sequence[str] | None, key: str,
                     now: datetime) -> None:
        with self._lock:
            running = self._running.get((city_id, key))
            if running is not None and running.is_alive():
                return

            def count() -> None:
                try:
                    with self.sessions.begin() as session:
                        self._count(session, city_id, campaign_ids, key, now)
                except Exception:
                    log.exception("could not count the results of %s again", city_id)

            thread = threading.Thread(target=count, name=f"results-{city_id}", daemon=True)
            self._running[(city_id, key)] = thread
            thread.start()

    def wait(self) -> None:
        """Until the background counts are done (tests, shutdown)."""
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join()

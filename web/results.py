"""Results of a city's campaigns for the console and the public pages: the digest's own builder over
the city's GROUP BY aggregates, so small cells are suppressed exactly as in the councils' digests."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bot.config import AppConfig
from digests.builder import CouncilView, build_digest
from digests.model import Digest
from digests.wording import say
from storage import reports

# Results cover every answer ever given in the city: the start of time, for the aggregates.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MIN_CELL_SIZE = 5


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
    """Every answer of the city so far, as a digest: of the given campaigns only, when named."""
    aggregates = reports.city_aggregates(session, city_id, BEGINNING, now)
    present = set(aggregates.participants_by_campaign)
    wanted = sorted(present) if campaign_ids is None else [c for c in campaign_ids if c in present]
    definitions = reports.campaign_definitions(session, wanted)
    digest = build_digest(view_of(config, city_id, language), aggregates, None,
                          {cid: definitions[cid] for cid in wanted if cid in definitions},
                          start=BEGINNING, end=now, generated_at=now)
    if campaign_ids is None:
        return digest
    kept = set(wanted)
    return dataclasses.replace(digest, campaigns=tuple(c for c in digest.campaigns if c.campaign_id in kept))

"""Where the console's times are read: in the local time of the city a page is about, named so that
no one mistakes it for their own (a youth worker in Lyon reading a Montréal alert)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.config import AppConfig, Bilingual


@dataclass(frozen=True)
class Place:
    """A city's time zone and name; for the times of a campaign of several cities (written in each
    city's local time), no one zone and no name."""

    zone: ZoneInfo | None
    name: Bilingual | None

    def local(self, instant: datetime) -> datetime:
        """The wall-clock time here of an instant (a naive one is UTC, as the database keeps it)."""
        assert self.zone is not None, "a time of several cities has no single local time"
        aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
        return aware.astimezone(self.zone)

    def day(self, instant: datetime) -> date:
        return self.local(instant).date()


EACH_CITY = Place(None, None)


class Places:
    """The place of each city of the deployment, and the default city's for the rest."""

    def __init__(self, config: AppConfig) -> None:
        self._cities = {city.id: Place(ZoneInfo(city.timezone), city.name) for city in config.cities}
        self._names = {city.id: city.name for city in config.cities}
        self._home = self._cities[config.home_city().id]

    def __call__(self, cities: str | Sequence[str] | None = None) -> Place:
        """One city's place (the default city's for none or an unknown one); for several, EACH_CITY."""
        if cities is None or isinstance(cities, str):
            return self._cities.get(cities, self._home) if cities else self._home
        if len(cities) == 1:
            return self(cities[0])
        return EACH_CITY

    def city_name(self, city: str, language: str) -> str:
        """The city's name in the reader's language; its id for a city no longer configured."""
        name = self._names.get(city)
        return city if name is None else str(getattr(name, language))

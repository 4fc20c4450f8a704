"""The places and people a deployment serves, as the engine needs them (read from config.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.survey import Text

# The city option for someone who lives in none of the deployment's cities.
OTHER_CITY = "other"


@dataclass(frozen=True)
class Place:
    id: str
    name: Text
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class City:
    id: str
    name: Text
    neighbourhoods: tuple[Place, ...]


@dataclass(frozen=True)
class AgeBand:
    id: str
    min: int
    max: int


@dataclass(frozen=True)
class Community:
    cities: tuple[City, ...]
    age_bands: tuple[AgeBand, ...]
    # Below this age a parent or guardian must agree too.
    digital_consent_age: int
    notice_version: int
    privacy_contact: str
    default_language: str = "fr"

    def city(self, city_id: str | None) -> City | None:
        return next((c for c in self.cities if c.id == city_id), None)

    def band(self, band_id: str | None) -> AgeBand | None:
        return next((b for b in self.age_bands if b.id == band_id), None)

    def band_for_age(self, age: int) -> AgeBand | None:
        return next((b for b in self.age_bands if b.min <= age <= b.max), None)

    @property
    def min_age(self) -> int:
        return min(b.min for b in self.age_bands)

    @property
    def max_age(self) -> int:
        return max(b.max for b in self.age_bands)

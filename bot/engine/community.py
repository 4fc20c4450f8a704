"""The places and people a deployment serves, as the engine needs them (read from config.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.survey import Text

# A city configured without its council's name is heard by "la mairie".
DEFAULT_COUNCIL = Text("la mairie", "the city council")
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
    # The council that hears this city's young people, as they call it: "la Ville", "la commune".
    council: Text = DEFAULT_COUNCIL
    # ISO 3166 country code: which helplines and which digital consent age apply.
    country: str = ""


@dataclass(frozen=True)
class Helpline:
    """A service a young person can call or write to, for one country or some cities."""

    name: str
    number: str
    hours: Text
    languages: tuple[str, ...]
    countries: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgeBand:
    id: str
    min: int
    max: int


@dataclass(frozen=True)
class Country:
    code: str
    # Below this age a parent or guardian must agree too (13 to 16 in the GDPR countries).
    digital_consent_age: int
    emergency: str


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    cities: tuple[str, ...]


@dataclass(frozen=True)
class Community:
    cities: tuple[City, ...]
    age_bands: tuple[AgeBand, ...]
    # Below this age a parent or guardian must agree too.
    digital_consent_age: int
    notice_version: int
    privacy_contact: str
    default_language: str = "fr"
    helplines: tuple[Helpline, ...] = ()
    countries: tuple[Country, ...] = ()
    partners: tuple[Partner, ...] = ()
    # Under the consent age: "guardian" (the young person confirms a parent or guardian agreed)
    # or "decline" (turned away politely, nothing kept).
    under_age: str = "guardian"

    def consent_age(self, city: City | None) -> int:
        """The age of digital consent where a city is (the default one when not known)."""
        country = self.country(city)
        return country.digital_consent_age if country else self.digital_consent_age

    def consent_age_range(self) -> tuple[int, int]:
        """The lowest and highest consent ages among the cities served and elsewhere."""
        ages = {self.consent_age(c) for c in self.cities} | {self.digital_consent_age}
        return min(ages), max(ages)

    def country(self, city: City | None) -> Country | None:
        return next((c for c in self.countries if city is not None and c.code == city.country), None)

    def emergency_number(self, city: City | None) -> str:
        country = self.country(city)
        return country.emergency if country else "112"

    def helpline_countries(self, helpline: Helpline) -> tuple[str, ...]:
        """The countries a helpline serves, its cities' included."""
        found = list(helpline.countries)
        for city in self.cities:
            if city.id in helpline.cities and city.country not in found:
                found.append(city.country)
        return tuple(found)

    def partner_for(self, city_id: str | None) -> str | None:
        """The name of the partner organisation serving a city, if one does."""
        return next((p.name for p in self.partners if city_id in p.cities), None)

    def city(self, city_id: str | None) -> City | None:
        return next((c for c in self.cities if c.id == city_id), None)

    def band(self, band_id: str | None) -> AgeBand | None:
        return next((b for b in self.age_bands if b.id == band_id), None)

    def band_for_age(self, age: int) -> AgeBand | None:
        return next((b for b in self.age_bands if b.min <= age <= b.max), None)

    def helplines_for(self, city_id: str | None, language: str) -> tuple[Helpline, ...]:
        """The helplines for where the participant lives, those speaking their language first.

        Before the city is known, every helpline of every country served: better too many than none.
        """
        city = self.city(city_id)
        if city is None:
            return tuple(sorted(self.helplines, key=lambda h: (self.helpline_countries(h),
                                                               language not in h.languages)))
        found = [h for h in self.helplines if city.id in h.cities or city.country in h.countries]
        return tuple(sorted(found, key=lambda h: language not in h.languages))

    @property
    def min_age(self) -> int:
        return min(b.min for b in self.age_bands)

    @property
    def max_age(self) -> int:
        return max(b.max for b in self.age_bands)

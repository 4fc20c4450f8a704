"""The application's configuration (config.yml): cities, councils, partners, campaigns, helplines.

Secrets never live in the file: they come from the environment (see `Secrets`).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.engine.community import AgeBand, City, Community, Country, Helpline, Partner, Place
from bot.engine.survey import Text
from bot.engine.yaml_lines import LineDict, LineList, YamlSyntaxError, parse

ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class ConfigError(Exception):
    """config.yml cannot be used; the message names the file and every faulty field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Model):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def text(self) -> Text:
        return Text(fr=self.fr, en=self.en)


class NeighbourhoodConfig(_Model):
    id: str = Field(pattern=ID)
    name: Bilingual
    # What people call it besides its name ("la Guill", "NDG"): typed answers and the NLU know them.
    aliases: list[Annotated[str, Field(min_length=1, pattern=r"\S")]] = []


CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


class QuietHours(_Model):
    """Local hours when no invitation or reminder is sent: they wait for the morning."""

    start: str = "21:00"
    end: str = "08:00"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day: write it like 21:00")
        return value

    def span(self) -> tuple[time, time]:
        return _clock_time(self.start), _clock_time(self.end)


def _clock_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


COUNTRY = r"^[A-Z]{2}$"


class CityConfig(_Model):
    id: str = Field(pattern=ID)
    name: Bilingual
    # ISO 3166 code, e.g. FR, BE, CA: which helplines, emergency number and consent age apply.
    country: str = Field(pattern=COUNTRY)
    # An IANA name (Europe/Paris, America/Toronto): schedules and quiet hours are in local time.
    timezone: str
    # What young people of this city call the council that hears them: "la mairie", "la Ville"
    # (Montréal), "la commune" (Brussels); used inside sentences, so in lower case where usual.
    council: Bilingual
    neighbourhoods: list[NeighbourhoodConfig] = []
    # This city's own quiet hours, when they differ from the deployment's.
    quiet_hours: QuietHours | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name: write it like Europe/Paris "
                             "or America/Toronto") from None
        return value


class CountryConfig(_Model):
    # The age of digital consent there (GDPR article 8 lets each country choose 13 to 16).
    digital_consent_age: int = Field(ge=13, le=16)
    # The number to call in immediate danger.
    emergency: str = Field(min_length=1)


class AgeBandConfig(_Model):
    id: str
    min: int = Field(ge=10, le=30)
    max: int = Field(ge=10, le=30)


class PrivacyConfig(_Model):
    notice_version: int = Field(ge=1)
    contact_email: str


class ConsentConfig(_Model):
    # Where a city's country is not listed under `countries`.
    digital_consent_age: int = Field(ge=13, le=16)
    # Below the consent age: "decline" turns the young person away politely and keeps nothing;
    # "guardian" asks them to confirm that a parent or guardian agreed, and records exactly that.
    under_age: Literal["decline", "guardian"] = "guardian"
    # How long a chat turned away for its age is not asked again (a keyed hash of the chat id is
    # kept that long, never the id itself).
    cooldown_hours: int = Field(default=24, ge=0, le=24 * 30)


EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class RecipientsConfig(_Model):
    """Where a council's digests go: email addresses, a Telegram chat, or both."""

    email: list[str] = []
    # A chat the bot is a member of (groups have negative ids).
    telegram_chat_id: int | None = None

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not EMAIL.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> RecipientsConfig:
        if not self.email and self.telegram_chat_id is None:
            raise ValueError("give at least one email address or a telegram_chat_id")
        return self


class WeeklyConfig(_Model):
    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    # Local time in the council's city.
    time: str = "08:00"

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day: write it like 08:00")
        return value


class DigestScheduleConfig(_Model):
    # None: no weekly digest.
    weekly: WeeklyConfig | None = WeeklyConfig()
    # Also a digest when a campaign the city's young people answered closes, covering the time
    # since the council's previous digest.
    on_campaign_close: bool = True


class CouncilConfig(_Model):
    id: str = Field(pattern=ID)
    city: str
    language: Literal["fr", "en"]
    recipients: RecipientsConfig
    schedule: DigestScheduleConfig = DigestScheduleConfig()
    # No count below this is shown to the council (in tables, charts, breakdowns or the CSV).
    min_cell_size: int = Field(default=5, ge=2, le=100)


class SmtpConfig(_Model):
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # starttls: plain connection upgraded (port 587); ssl: TLS from the start (port 465);
    # none: only for a relay on the same machine.
    security: Literal["starttls", "ssl", "none"] = "starttls"
    timeout: float = Field(default=30, gt=0)


class EmailConfig(_Model):
    sender: str = "YouthVoice <digests@youthvoice.example>"
    # Without smtp, every digest is written here as .eml and .html instead of being sent.
    outbox: str = "var/outbox"
    smtp: SmtpConfig | None = None


class SafeguardingContact(_Model):
    """Where a partner's trained staff receive alerts: a Telegram chat, an e-mail address, or both."""

    telegram_chat: int | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @model_validator(mode="after")
    def _somewhere(self) -> SafeguardingContact:
        if self.telegram_chat is None and self.email is None:
            raise ValueError("a safeguarding contact needs telegram_chat, email or both")
        return self


class PartnerConfig(_Model):
    id: str = Field(pattern=ID)
    name: str
    cities: list[str]
    safeguarding: SafeguardingContact | None = None


class BroadcastConfig(_Model):
    # Messages per second for the whole deployment, all workers together, replies first: under
    # Telegram's 30 per second. Higher values only make sense against a test server of one's own.
    rate: float = Field(default=25.0, gt=0, le=1000)


class ReportingConfig(_Model):
    # Groups smaller than this are shown as "< k" in status and flagged in exports.
    min_group_size: int = Field(default=5, ge=2, le=100)


class HelplineConfig(_Model):
    name: str = Field(min_length=1)
    number: str = Field(min_length=1)
    hours: Bilingual
    languages: list[Literal["fr", "en"]] = Field(min_length=1)
    # Where it serves: whole countries (ISO codes) and/or some cities (ids).
    countries: list[str] = []
    cities: list[str] = []

    @model_validator(mode="after")
    def _somewhere(self) -> HelplineConfig:
        if not self.countries and not self.cities:
            raise ValueError(f"helpline {self.name!r} names no country and no city")
        return self


class RetentionConfig(_Model):
    # Raw free text and messages passed to staff are kept this long; then only the scrubbed text.
    free_text_days: int = Field(default=90, ge=1, le=3650)


class AppConfig(_Model):
    version: Literal[1]
    default_language: Literal["fr", "en"] = "fr"
    # The city whose local time the web console shows where a page concerns no one city (the audit
    # trail, accounts, an alert from before the city was known); default: the first city.
    default_city: str | None = None
    privacy: PrivacyConfig
    consent: ConsentConfig
    age_bands: list[AgeBandConfig] = Field(min_length=1)
    cities: list[CityConfig] = Field(min_length=1)
    campaigns: list[str] = []
    councils: list[CouncilConfig] = []
    partners: list[PartnerConfig] = []
    countries: dict[str, CountryConfig] = {}
    helplines: list[HelplineConfig] = []
    retention: RetentionConfig = RetentionConfig()
    email: EmailConfig = EmailConfig()
    quiet_hours: QuietHours = QuietHours()
    broadcast: BroadcastConfig = BroadcastConfig()
    reporting: ReportingConfig = ReportingConfig()

    @model_validator(mode="after")
    def _consistent(self) -> AppConfig:
        city_ids = [c.id for c in self.cities]
        if len(set(city_ids)) != len(city_ids):
            raise ValueError("two cities share an id")
        for band in self.age_bands:
            if band.min > band.max:
                raise ValueError(f"age band {band.id}: min {band.min} is above max {band.max}")
        bands = sorted(self.age_bands, key=lambda b: b.min)
        for before, after in itertools.pairwise(bands):
            if after.min != before.max + 1:
                raise ValueError(f"age bands {before.id} and {after.id} leave a gap or overlap")
        if self.default_city is not None and self.default_city not in city_ids:
            raise ValueError(f"default_city {self.default_city!r} is not one of the cities "
                             f"({', '.join(city_ids)})")
        council_ids = [c.id for c in self.councils]
        if len(set(council_ids)) != len(council_ids):
            raise ValueError("two councils share an id")
        for council in self.councils:
            if council.city not in city_ids:
                raise ValueError(f"council {council.id} names unknown city {council.city!r}")
        for partner in self.partners:
            unknown = set(partner.cities) - set(city_ids)
            if unknown:
                raise ValueError(f"partner {partner.id} names unknown cities {sorted(unknown)}")
        partner_ids = [p.id for p in self.partners]
        if len(set(partner_ids)) != len(partner_ids):
            raise ValueError("two partners share an id")
        countries = {c.country for c in self.cities}
        for helpline in self.helplines:
            unknown = set(helpline.cities) - set(city_ids)
            if unknown:
                raise ValueError(f"helpline {helpline.name!r} names unknown cities {sorted(unknown)}")
            unknown = set(helpline.countries) - countries
            if unknown:
                raise ValueError(f"helpline {helpline.name!r} names countries no city is in: "
                                 f"{sorted(unknown)}")
        for city in self.cities:
            if not any(city.id in h.cities or city.country in h.countries for h in self.helplines):
                raise ValueError(f"city {city.id} has no helpline: a young person there who tells "
                                 f"us they are in danger must get one")
        return self

    def city(self, city_id: str) -> CityConfig | None:
        return next((c for c in self.cities if c.id == city_id), None)

    def home_city(self) -> CityConfig:
        """`default_city`, else the first city."""
        chosen = self.city(self.default_city) if self.default_city is not None else None
        return chosen if chosen is not None else self.cities[0]

    def partner(self, partner_id: str) -> PartnerConfig | None:
        return next((p for p in self.partners if p.id == partner_id), None)

    def quiet_hours_of(self, city_id: str) -> QuietHours:
        city = self.city(city_id)
        return city.quiet_hours if city is not None and city.quiet_hours is not None else self.quiet_hours

    def council(self, council_id: str) -> CouncilConfig | None:
        return next((c for c in self.councils if c.id == council_id), None)

    def community(self) -> Community:
        return Community(
            cities=tuple(
                City(c.id, c.name.text(),
                     tuple(Place(n.id, n.name.text(), tuple(n.aliases)) for n in c.neighbourhoods),
                     council=c.council.text(), country=c.country)
                for c in self.cities
            ),
            age_bands=tuple(AgeBand(b.id, b.min, b.max) for b in sorted(self.age_bands, key=lambda b: b.min)),
            digital_consent_age=self.consent.digital_consent_age,
            notice_version=self.privacy.notice_version,
            privacy_contact=self.privacy.contact_email,
            default_language=self.default_language,
            helplines=tuple(
                Helpline(h.name, h.number, h.hours.text(), tuple(h.languages), tuple(h.countries),
                         tuple(h.cities))
                for h in self.helplines
            ),
            countries=tuple(Country(code, c.digital_consent_age, c.emergency)
                            for code, c in sorted(self.countries.items())),
            partners=tuple(Partner(p.id, p.name, tuple(p.cities)) for p in self.partners),
            under_age=self.consent.under_age,
        )


def load_config(path: Path) -> AppConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: {not_utf8(exc)}") from exc
    try:
        raw = parse(text)
    except YamlSyntaxError as exc:
        raise ConfigError(f"{path}: line {exc.line}: {exc.message}") from exc
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [describe_error(error, raw) for error in exc.errors()]
        lines = [f"{path}: {len(problems)} problem(s):"]
        lines += [f"  {problem}" for problem in sorted(problems, key=_line_of)]
        raise ConfigError("\n".join(lines)) from exc


def not_utf8(exc: UnicodeDecodeError) -> str:
    """Where a file stops being UTF-8, in words: the line of the first bad byte."""
    line = exc.object[:exc.start].count(b"\n") + 1
    return (f"line {line} is not UTF-8 text (an accent saved in another encoding?): save the file "
            "as UTF-8 (in most editors: Save as, Encoding: UTF-8)")


def _line_of(problem: str) -> int:
    match = re.match(r"line (\d+)", problem)
    return int(match.group(1)) if match else 0


_PLAIN = {
    "missing": "is missing",
    "extra_forbidden": "is not a setting YouthVoice knows (check its spelling and indentation)",
    "string_type": "should be a text",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "float_parsing": "should be a number",
    "list_type": "should be a list (items on lines starting with '- ', or [a, b])",
    "dict_type": "should be a group of settings (name: value lines, indented below it)",
    "model_type": "should be a group of settings (name: value lines, indented below it)",
    "string_pattern_mismatch": "should be an id: lower-case letters, digits, '-' or '_'",
    "string_too_short": "should not be empty",
    "too_short": "should not be empty",
    "bool_type": "should be true or false",
}


def describe_error(error: ErrorDetails, raw: Any) -> str:
    """One validation error in words, with the line it is on when the file says it."""
    loc = tuple(error["loc"])
    where, line = _locate(raw, loc)
    kind = error["type"]
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"should be one of {expected}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        limits = {"greater_than_equal": "at least", "greater_than": "more than",
                  "less_than_equal": "at most", "less_than": "less than"}
        bound = next(iter(error.get("ctx", {}).values()), "")
        message = f"should be {limits[kind]} {bound}"
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = _PLAIN.get(kind, error["msg"])
    prefix = f"line {line}: " if line else ""
    return f"{prefix}{where or 'the file'} {message}" if where else f"{prefix}{message}"


def _locate(raw: Any, loc: tuple[int | str, ...]) -> tuple[str, int]:
    """A readable path ("cities, item 2, timezone") and the line of the deepest part found."""
    words: list[str] = []
    line = 0
    node = raw
    for part in loc:
        if isinstance(part, int):
            words.append(f"item {part + 1}")
            if isinstance(node, LineList) and part < len(node):
                line = node.item_lines[part]
                node = node[part]
            else:
                node = None
        else:
            words.append(part)
            if isinstance(node, LineDict) and part in node:
                line = node.key_lines[part]
                node = node[part]
            else:
                # A missing setting has no line: the one of the section it belongs to is given.
                node = None
    return ", ".join(words), line


class Secrets:
    """What must never be written in config.yml."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        source = os.environ if env is None else env
        self.telegram_token = source.get("TELEGRAM_BOT_TOKEN") or None
        self.webhook_secret = source.get("TELEGRAM_WEBHOOK_SECRET") or None
        self.rasa_url = source.get("RASA_URL") or None
        # Another Bot API server (a local one, or a test emulator) instead of Telegram's.
        self.telegram_api_url = source.get("TELEGRAM_API_URL") or None
        # For the SMTP server in config.yml (email.smtp); both or neither.
        self.smtp_username = source.get("SMTP_USERNAME") or None
        self.smtp_password = source.get("SMTP_PASSWORD") or None

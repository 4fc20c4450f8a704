"""The console's texts: gettext catalogs in web/locale (domain "console"), one Jinja2 environment per
language so that every page is rendered whole in the reader's language."""

from __future__ import annotations

from datetime import datetime
from gettext import GNUTranslations
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.i18n import CatalogMissingError
from web.times import Place

LOCALE_DIR = Path(__file__).parent / "locale"
TEMPLATES_DIR = Path(__file__).parent / "templates"
DOMAIN = "console"
LANGUAGES = ("fr", "en")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}
# "1 déc. 2026, 14:05" / "1 Dec 2026, 14:05": the month in words, never mistaken for a day.
TIME_PATTERN = "d MMM y, HH:mm"


def N_(message: str) -> str:
    """Marks a text for the catalogs where it is defined; a template translates it where it is shown."""
    return message


def load_translations(language: str, locale_dir: Path = LOCALE_DIR) -> GNUTranslations:
    path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    try:
        with path.open("rb") as handle:
            return GNUTranslations(handle)
    except FileNotFoundError as exc:
        raise CatalogMissingError(
            f"{path} is missing: the catalogs are compiled at install time (`make install`)") from exc


def environment(language: str, translations: GNUTranslations) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    # Parsed once: given a name, Babel parses it again for every figure of a page.
    locale = Locale.parse(LOCALES[language])
    env.filters["number"] = lambda value: format_decimal(value, locale=locale)
    env.filters["percent"] = lambda value: format_percent(value, locale=locale)
    # Instants in the local time of a place (web.times), named: "1 déc. 2026, 14:05 (heure de Lyon)";
    # `label=False` where a table's heading names the place once.
    env.filters["at"] = lambda value, place, label=True: _at(value, place, label, language, locale,
                                                             translations)
    env.filters["day_at"] = lambda value, place: format_date(place.day(value), "long", locale=locale)
    # A time written as a wall-clock time (a campaign file's schedule), in its place's words.
    env.filters["wall"] = lambda value, place: _wall(value, place, language, locale, translations)
    env.filters["zone_label"] = lambda place: time_label(place, language, translations)
    env.globals["language"] = language
    return env


def time_label(place: Place, language: str, translations: GNUTranslations) -> str:
    """"heure de Lyon", "Montreal time"; for a campaign of several cities, "local time of each city"."""
    if place.name is None:
        return translations.gettext(N_("local time of each city"))
    name: str = getattr(place.name, language)
    label = translations.gettext(N_("%(city)s time")) % {"city": name}
    # "heure d’Anderlecht", not "heure de Anderlecht".
    if language == "fr" and name[:1].lower() in "aeiouyàâéèêîïôûü":
        label = label.replace(f"de {name}", f"d’{name}")
    return label


def _at(value: datetime | None, place: Place, label: bool, language: str, locale: Locale,
        translations: GNUTranslations) -> str:
    if value is None:
        return ""
    shown = format_datetime(place.local(value), TIME_PATTERN, tzinfo=place.zone, locale=locale)
    return f"{shown} ({time_label(place, language, translations)})" if label else shown


def _wall(value: datetime, place: Place, language: str, locale: Locale, translations: GNUTranslations) -> str:
    shown = format_datetime(value, TIME_PATTERN, locale=locale)
    return f"{shown} ({time_label(place, language, translations)})"


def best_language(accept_language: str, default: str) -> str:
    """The first of French or English the browser asks for (Accept-Language), else the default."""
    ranked: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        pieces = part.strip().split(";")
        code = pieces[0].strip().lower()[:2]
        weight = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if code in LANGUAGES:
            ranked.append((weight, code))
    return max(ranked, key=lambda item: item[0])[1] if ranked else default

"""The console's texts: gettext catalogs in web/locale (domain "console"), one Jinja2 environment per
language so that every page is rendered whole in the reader's language."""

from __future__ import annotations

from datetime import datetime
from gettext import GNUTranslations
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.i18n import CatalogMissingError

LOCALE_DIR = Path(__file__).parent / "locale"
TEMPLATES_DIR = Path(__file__).parent / "templates"
DOMAIN = "console"
LANGUAGES = ("fr", "en")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}


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
    env.filters["when"] = lambda value: _when(value, locale)
    env.filters["day"] = lambda value: format_date(value, "long", locale=locale)
    # An instant as the wall-clock time of a city (its IANA zone name).
    env.filters["local"] = lambda value, zone: format_datetime(value, "d MMM y, HH:mm", tzinfo=ZoneInfo(zone),
                                                               locale=locale)
    env.globals["language"] = language
    return env


def _when(value: datetime | None, locale: Locale) -> str:
    return "" if value is None else format_datetime(value, "medium", locale=locale)


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

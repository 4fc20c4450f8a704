"""The bot's own texts, from the compiled gettext catalogs in bot/locale."""

from __future__ import annotations

from gettext import GNUTranslations
from pathlib import Path

from bot.engine.survey import LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "youthvoice"


class CatalogMissingError(Exception):
    pass


class GettextCatalog:
    """Loads each language's compiled catalog once; English texts are the message ids themselves."""

    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self._translations: dict[str, GNUTranslations] = {}
        for language in LANGUAGES:
            path = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
            try:
                with path.open("rb") as handle:
                    self._translations[language] = GNUTranslations(handle)
            except FileNotFoundError as exc:
                raise CatalogMissingError(
                    f"{path} is missing: the catalogs are compiled at install time "
                    "(`make install`, or `pybabel compile -d bot/locale -D youthvoice`)"
                ) from exc

    def gettext(self, language: str, message: str) -> str:
        translations = self._translations.get(language)
        return translations.gettext(message) if translations else message

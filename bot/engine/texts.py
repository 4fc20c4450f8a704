"""How the engine gets the bot's own texts: a catalog is injected, gettext-backed in the service."""

from __future__ import annotations

from typing import Protocol


class Catalog(Protocol):
    def gettext(self, language: str, message: str) -> str: ...


def N_(message: str) -> str:
    """Mark a text for the catalogs where it is defined; it is translated where it is used."""
    return message

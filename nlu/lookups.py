"""Rasa lookup tables generated from the app's config.yml, so the NLU knows every configured place.

The neighbourhood table lists each neighbourhood's French and English names and its aliases ("la
Guill", "NDG") plus the spellings young people type: without accents and with spaces for hyphens
("Guillotiere", "Croix Rousse").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

import yaml

NEIGHBOURHOOD_ENTITY = "neighbourhood"
LANGUAGES = ("fr", "en")


class LookupConfigError(ValueError):
    """The app config does not have the shape the lookup generator reads."""


def neighbourhood_names(config: object, source: str = "config.yml") -> list[str]:
    """Every neighbourhood name of every city, in config order, with spelling variants, no repeats."""
    cities = _field(config, "cities", source, "")
    if not isinstance(cities, list):
        raise LookupConfigError(f"{source}: cities must be a list")
    names: list[str] = []
    for c, city in enumerate(cities):
        neighbourhoods = _field(city, "neighbourhoods", source, f"cities[{c}].")
        if not isinstance(neighbourhoods, list):
            raise LookupConfigError(f"{source}: cities[{c}].neighbourhoods must be a list")
        for n, neighbourhood in enumerate(neighbourhoods):
            where = f"cities[{c}].neighbourhoods[{n}]."
            name = _field(neighbourhood, "name", source, where)
            for language in LANGUAGES:
                text = _field(name, language, source, f"{where}name.")
                if not isinstance(text, str) or not text.strip() or "\n" in text:
                    raise LookupConfigError(
                        f"{source}: {where}name.{language} must be a one-line, non-empty string"
                    )
                names.extend(spelling_variants(text.strip()))
            aliases = neighbourhood.get("aliases", []) if isinstance(neighbourhood, dict) else []
            if not isinstance(aliases, list) or not all(
                isinstance(alias, str) and alias.strip() and "\n" not in alias for alias in aliases
            ):
                raise LookupConfigError(
                    f"{source}: {where}aliases must be a list of one-line, non-empty strings"
                )
            for alias in aliases:
                names.extend(spelling_variants(alias.strip()))
    return list(dict.fromkeys(names))


def spelling_variants(name: str) -> list[str]:
    """The name as written, without accents, and with spaces for hyphens (and both)."""
    folded = strip_accents(name)
    variants = [name, folded, name.replace("-", " "), folded.replace("-", " ")]
    return list(dict.fromkeys(variants))


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def lookup_yaml(table: str, entries: Iterable[str]) -> str:
    """A Rasa NLU training file (format 3.1) holding one lookup table."""
    lines = ['version: "3.1"', "nlu:", f"- lookup: {table}", "  examples: |"]
    lines.extend(f"    - {entry}" for entry in entries)
    return "\n".join(lines) + "\n"


def write_neighbourhood_lookup(app_config: Path, out: Path) -> Path:
    """Generate the neighbourhood lookup table from `app_config` into `out`.

    The file is rewritten only when its content changes, so its timestamp means something.
    """
    try:
        config = yaml.safe_load(app_config.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise LookupConfigError(f"{app_config} is missing") from error
    except yaml.YAMLError as error:
        raise LookupConfigError(f"{app_config} is not valid YAML: {error}") from error
    names = neighbourhood_names(config, str(app_config))
    if not names:
        raise LookupConfigError(f"{app_config}: no neighbourhood is configured")
    content = lookup_yaml(NEIGHBOURHOOD_ENTITY, names)
    if not out.exists() or out.read_text(encoding="utf-8") != content:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(content, encoding="utf-8")
    return out


def _field(mapping: object, key: str, source: str, where: str) -> object:
    if not isinstance(mapping, dict):
        raise LookupConfigError(f"{source}: {where.rstrip('.') or 'the document'} must be a mapping")
    if key not in mapping:
        raise LookupConfigError(f"{source}: {where}{key} is missing")
    return mapping[key]

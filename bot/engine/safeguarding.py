"""Disclosure detection: does a message say that a young person is at risk? Pure, no NLU needed.

The lexicon is data (bot/engine/data/safeguarding/*.yml), reviewed entry by entry, each with the
origin of its wording. A message is normalised (case, accents, apostrophes, punctuation), benign
idioms are blanked out ("mort de rire", "dead tired"), then every pattern is tried; an entry's own
``unless`` patterns veto it when they match the same message ("ce bus me tue").

The detector runs before anything else reads a free-text message: a disclosure is never taken as a
command or as an answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml

from bot.engine.matching import normalize


class Category(StrEnum):
    # In order of urgency: the first one found is the one staff see first.
    SELF_HARM = "self_harm"
    SEXUAL_ABUSE = "sexual_abuse"
    ABUSE_AT_HOME = "abuse_at_home"
    EXPLOITATION = "exploitation"
    VIOLENCE_FROM_OTHERS = "violence_from_others"
    ACUTE_DISTRESS = "acute_distress"


URGENCY = tuple(Category)


class LexiconError(ValueError):
    """A lexicon file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Entry:
    category: Category
    pattern: re.Pattern[str]
    unless: tuple[re.Pattern[str], ...]
    source: str


@dataclass(frozen=True)
class Disclosure:
    """What a message discloses: every category found, the most urgent first."""

    categories: tuple[Category, ...]

    @property
    def category(self) -> Category:
        return self.categories[0]


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[Entry, ...]
    benign: tuple[re.Pattern[str], ...]

    @classmethod
    def from_yaml(cls, documents: Mapping[str, str]) -> Lexicon:
        """Build a lexicon from lexicon files' texts, keyed by file name (for error messages)."""
        parsed: dict[str, dict[str, Any]] = {}
        for name, text in sorted(documents.items()):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise LexiconError(f"{name}: invalid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise LexiconError(f"{name}: expected a mapping with 'entries' or 'benign'")
            parsed[name] = data
        # Macros (shared word groups such as the ways of writing "I want") serve every file.
        macros: dict[str, str] = {}
        for name, data in parsed.items():
            macros.update(_macros(name, data.get("macros") or {}, macros))
        entries: list[Entry] = []
        benign: list[re.Pattern[str]] = []
        for name, data in parsed.items():
            for index, raw in enumerate(data.get("benign") or []):
                benign.append(_entry_pattern(name, f"benign[{index}]", raw, macros)[0])
            for index, raw in enumerate(data.get("entries") or []):
                where = f"entries[{index}]"
                pattern, source = _entry_pattern(name, where, raw, macros)
                label = raw.get("category") or data.get("category")
                try:
                    category = Category(str(label))
                except ValueError as exc:
                    raise LexiconError(f"{name}: {where}: unknown category {label!r}") from exc
                unless = tuple(_compile(name, where, u, macros) for u in raw.get("unless") or ())
                entries.append(Entry(category, pattern, unless, source))
        return cls(tuple(entries), tuple(benign))

    def detect(self, text: str) -> Disclosure | None:
        """The disclosure a message makes, or None."""
        words = f" {normalize(text)} "
        for idiom in self.benign:
            words = idiom.sub(" ~ ", words)
        found: set[Category] = set()
        for entry in self.entries:
            if entry.category in found or not entry.pattern.search(words):
                continue
            if any(u.search(words) for u in entry.unless):
                continue
            found.add(entry.category)
        if not found:
            return None
        return Disclosure(tuple(c for c in URGENCY if c in found))

    def sources(self) -> Iterable[str]:
        return (e.source for e in self.entries)


_MACRO = re.compile(r"\{([A-Z_]+)\}")


def _macros(name: str, raw: Any, known: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise LexiconError(f"{name}: macros must map NAME to a pattern")
    macros: dict[str, str] = {}
    for key, value in raw.items():
        macros[str(key)] = f"(?:{_expand(name, 'macros', str(value), {**known, **macros})})"
    return macros


def _expand(name: str, where: str, pattern: str, macros: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in macros:
            raise LexiconError(f"{name}: {where}: unknown macro {{{key}}}")
        return macros[key]

    return _MACRO.sub(substitute, pattern)


def _compile(name: str, where: str, pattern: Any, macros: Mapping[str, str]) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise LexiconError(f"{name}: {where}: a pattern must be non-empty text")
    # Whole words only: the normalised message is padded with spaces at both ends.
    try:
        return re.compile(r"(?<=\s)" + _expand(name, where, pattern, macros) + r"(?=\s)")
    except re.error as exc:
        raise LexiconError(f"{name}: {where}: invalid pattern {pattern!r}: {exc}") from exc


def _entry_pattern(name: str, where: str, raw: Any,
                   macros: Mapping[str, str]) -> tuple[re.Pattern[str], str]:
    if not isinstance(raw, dict):
        raise LexiconError(f"{name}: {where}: expected a mapping with 'pattern' and 'source'")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise LexiconError(f"{name}: {where}: every entry says where its wording comes from "
                           f"('source')")
    return _compile(name, where, raw.get("pattern"), macros), source

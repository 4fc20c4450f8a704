"""Understand typed answers to button questions without the NLU: labels, synonyms, numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.engine.survey import Option

_NON_WORD = re.compile(r"[^\w']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_NUMBER_WORDS = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
    "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "none": 0, "aucun": 0,
    "jamais": 0, "never": 0,
}


def normalize(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form: 'Vélo !' and 'velo' compare equal."""
    # Compatibility forms (ｆｕｌｌ-width, 𝙼𝚊𝚝𝚑) fold before case, and case folding may expose more.
    folded = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES)).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = _NON_WORD.sub(" ", stripped.replace("'", " ")).split()
    return " ".join(words)


@dataclass(frozen=True)
class _Hit:
    option: str
    start: int
    end: int


def _phrases(option: Option) -> Iterable[str]:
    yield option.label.fr
    yield option.label.en
    yield option.id.replace("_", " ")
    yield from option.synonyms


def match_options(text: str, options: Sequence[Option]) -> list[str]:
    """Ids of the options a typed answer names, in option order; empty when none does.

    A whole-message number picks the option at that position. Otherwise every label or synonym
    found as whole words counts, except one that lies inside a longer match of another option
    ("pas assez" is not "assez").
    """
    words = normalize(text).split()
    if not words or not options:
        return []
    exact = _exact(words, options)
    if exact is not None:
        return [exact]
    hits: list[_Hit] = []
    for option in options:
        for phrase in {normalize(p) for p in _phrases(option)}:
            target = phrase.split()
            if not target:
                continue
            for start in range(len(words) - len(target) + 1):
                if words[start:start + len(target)] == target:
                    hits.append(_Hit(option.id, start, start + len(target)))
    kept = {
        hit.option
        for hit in hits
        if not any(
            other.option != hit.option
            and other.start <= hit.start
            and hit.end <= other.end
            and (other.end - other.start) > (hit.end - hit.start)
            for other in hits
        )
    }
    return [o.id for o in options if o.id in kept]


def _exact(words: list[str], options: Sequence[Option]) -> str | None:
    joined = " ".join(words)
    for option in options:
        if any(normalize(p) == joined for p in _phrases(option)):
            return option.id
    if len(words) == 1 and words[0].isdigit():
        position = int(words[0])
        if 1 <= position <= len(options):
            return options[position - 1].id
    return None


def parse_number(text: str) -> float | None:
    """The number a message gives: '12', '12,5', 'about 4 days', 'trois'. None if there is none or several."""
    found = _NUMBER.findall(text)
    if len(found) == 1:
        return float(found[0].replace(",", "."))
    if found:
        return None
    values = [_NUMBER_WORDS[w] for w in normalize(text).split() if w in _NUMBER_WORDS]
    if len(values) == 1:
        return float(values[0])
    return None

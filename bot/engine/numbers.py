"""Numbers in typed words, French and English: '12', 'douze', 'vingt et un', 'twenty-one',
'quatre-vingt-dix' and the Belgian and Swiss 'septante', 'huitante', 'nonante'.

Works on normalized words (see matching.normalize: lower case, no accents, hyphens split), so
'vingt-deux' arrives as ['vingt', 'deux'].
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
    "sept": 7, "huit": 8, "neuf": 9,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9,
}
TEENS = {
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "septante": 70,
    "huitante": 80, "octante": 80, "nonante": 90,
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
HUNDRED = {"cent": 100, "hundred": 100}
# Words that are a count on their own: 'twice', 'une dizaine' (about ten).
COUNTS = {"once": 1, "twice": 2, "thrice": 3}
ABOUT = {"dizaine": 10, "douzaine": 12, "quinzaine": 15, "vingtaine": 20, "trentaine": 30,
         "dozen": 12}
ARTICLES = {"un", "une", "a", "one"}
# 'one' after these is a pronoun ('the last one', 'that one'), not a number.
PRONOUN_BEFORE = {
    "the", "last", "first", "second", "third", "that", "this", "other", "which", "any", "every",
    "each", "same", "another", "no", "right", "wrong", "middle", "l", "le", "la", "chaque",
    "quelqu", "n", "aucun", "aucune", "pas",
}
_DIGITS = re.compile(r"^((?:minus_)?\d+(?:_\d+)?)(ans?|yo|y|yrs?|years?|x|fois)?$")


@dataclass(frozen=True)
class NumberHit:
    value: float
    start: int
    end: int
    # Written with digits, not in words.
    digits: bool = False


def find_numbers(words: list[str]) -> list[NumberHit]:
    """Every number written in the words, left to right, each with the words it spans."""
    hits: list[NumberHit] = []
    i = 0
    while i < len(words):
        hit = _number_at(words, i)
        if hit is None:
            i += 1
            continue
        hits.append(hit)
        i = hit.end
    return hits


def _number_at(words: list[str], i: int) -> NumberHit | None:
    word = words[i]
    digits = _DIGITS.match(word)
    if digits:
        value = float(digits.group(1).replace("minus_", "-").replace("_", "."))
        return NumberHit(value, i, i + 1, digits=True)
    after = words[i + 1] if i + 1 < len(words) else ""
    if word in ARTICLES and after in ABOUT:
        return NumberHit(ABOUT[after], i, i + 2)
    if word in COUNTS:
        return NumberHit(COUNTS[word], i, i + 1)
    if word in {"one", "un", "une"} and i > 0 and words[i - 1] in PRONOUN_BEFORE:
        return None
    whole, end = _below_hundred(words, i)
    if whole is None:
        return None
    if end < len(words) and words[end] in HUNDRED and whole < 10:
        # 'deux cent', 'two hundred' (and what follows)
        rest, rest_end = _below_hundred(words, end + 1)
        return NumberHit(whole * 100 + (rest or 0), i, rest_end if rest is not None else end + 1)
    return NumberHit(whole, i, end)


def _below_hundred(words: list[str], i: int) -> tuple[int | None, int]:
    """A number under 100 starting at words[i], and where it ends."""
    if i >= len(words):
        return None, i
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if word in HUNDRED:
        rest, end = _below_hundred(words, i + 1)
        return 100 + (rest or 0), end if rest is not None else i + 1
    if word == "quatre" and nxt in {"vingt", "vingts"}:
        rest, end = _unit_or_teen(words, i + 2, allow_teen=True)
        return 80 + (rest or 0), end if rest is not None else i + 2
    if word in TENS:
        tens = TENS[word]
        j = i + 1
        if j < len(words) and words[j] in {"et", "and"}:
            rest, end = _unit_or_teen(words, j + 1, allow_teen=word == "soixante")
            if rest is not None and (rest == 1 or rest == 11):
                return tens + rest, end
            return tens, i + 1
        rest, end = _unit_or_teen(words, j, allow_teen=word == "soixante")
        return (tens + rest, end) if rest is not None else (tens, j)
    return _unit_or_teen(words, i, allow_teen=True)


def _unit_or_teen(words: list[str], i: int, *, allow_teen: bool) -> tuple[int | None, int]:
    if i >= len(words):
        return None, i
    word = words[i]
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if allow_teen and word == "dix" and nxt in {"sept", "huit", "neuf"}:
        return 10 + UNITS[nxt], i + 2
    if allow_teen and word in TEENS:
        return TEENS[word], i + 1
    if word in UNITS and word != "zero":
        return UNITS[word], i + 1
    if word == "zero":
        return 0, i + 1
    return None, i

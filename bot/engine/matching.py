"""Understand typed answers to button questions without the NLU: labels, synonyms, numbers, and
the words that change their meaning (negations, hedges)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.engine.cues import (
    HEDGES,
    NEGATIONS,
    NEGATIONS_AFTER,
    find_phrases,
    has_phrase,
    negated_before,
)
from bot.engine.numbers import find_numbers
from bot.engine.survey import Option

_NON_WORD = re.compile(r"[^\w']+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
# '4/5', '4 sur 5', '4 out of 5': the mark, not two numbers.
_OUT_OF = re.compile(r"\s*(?:/|sur|out of|on)\s*(?:5|10|cinq|five|dix|ten)\b", re.IGNORECASE)
# '12,5' and '12.5' kept as one word through normalize ('_' is a word character).
_DECIMAL = re.compile(r"(\d)[.,](\d)")
_MINUS = re.compile(r"(^|\s)-(\d)")
# A count per week or per year answers 'how many days a month' only after a conversion the
# person did not make: ask rather than guess.
_OTHER_PERIOD = ("par semaine", "a week", "per week", "each week", "every week", "weekly",
                 "par an", "per year", "a year", "par annee", "tous les jours", "every day",
                 "chaque jour", "daily", "everyday", "par jour", "a day", "per day")
ZERO_WORDS = ("aucun", "aucune", "jamais", "never", "none", "zero", "nada", "nothing", "rien",
              "pas une fois", "not once", "0")
# Words that join or pad a list of options without saying anything of their own.
FILLERS = frozenset({
    "le", "la", "les", "l", "de", "du", "des", "d", "et", "and", "or", "ou", "the", "a", "an",
    "un", "une", "my", "mon", "ma", "mes", "aussi", "also", "too", "surtout", "mostly", "mainly",
    "principalement", "tbh", "genre", "like", "c", "est", "it", "s", "its", "is", "en", "by",
    "in", "par", "with", "avec", "plus", "puis", "then", "pis", "ya", "y", "yeah", "ouais", "oui",
    "yes", "i", "je", "j", "moi", "me", "on", "go", "vais", "take", "prends", "prend", "use",
    "usually", "souvent", "often", "lol", "mdr", "stp", "pls", "please", "svp",
    "trop", "really", "vraiment", "both", "tout", "all", "that", "ca", "cest", "pour", "for",
    "way", "so", "very", "much", "hyper", "super", "tellement", "beaucoup", "toujours", "always",
    "parfois", "sometimes", "deux", "two", "them", "ones", "celui", "celle", "ceux", "there",
})


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


@dataclass(frozen=True)
class ChoiceReading:
    """What a typed message says about a choice question's options."""

    # Options named and not negated, in option order.
    chosen: tuple[str, ...] = ()
    # Options named under a negation ("pas de bus"): never chosen.
    negated: tuple[str, ...] = ()
    # A hedge ("peut-être", "I guess") softens the answer: confirm before storing.
    hedged: bool = False
    # The message names options and nothing else: a list, not a sentence.
    clear: bool = False

    @property
    def sure(self) -> bool:
        return bool(self.chosen) and not self.hedged and not self.negated


def _phrases(option: Option) -> Iterable[str]:
    yield option.label.fr
    yield option.label.en
    yield option.id.replace("_", " ")
    yield from option.synonyms


def read_choice(text: str, options: Sequence[Option], *, positions: bool = True) -> ChoiceReading:
    """Read a typed answer against a question's options.

    A whole-message label, synonym or (with `positions`) number picks that option. Otherwise every
    label or synonym found as whole words counts, except one inside a longer match of another
    option ("pas assez" is not "assez") and one governed by a negation ("pas de bus la nuit" does
    not name Bus).
    """
    words = normalize(text).split()
    if not words or not options:
        return ChoiceReading()
    exact = _exact(words, options, positions)
    if exact is not None:
        return ChoiceReading(chosen=(exact,), clear=True)
    stems = [_stem(w) for w in words]
    hits: list[_Hit] = []
    for option in options:
        for phrase in {normalize(p) for p in _phrases(option)}:
            target = [_stem(w) for w in phrase.split()]
            if not target:
                continue
            for start in range(len(words) - len(target) + 1):
                if stems[start:start + len(target)] == target:
                    hits.append(_Hit(option.id, start, start + len(target)))
    kept = [
        hit for hit in hits
        if not any(
            other != hit
            and other.start <= hit.start
            and hit.end <= other.end
            and (other.end - other.start) > (hit.end - hit.start)
            for other in hits
        )
    ]
    # Two phrases sharing words: the one the message goes on to complete is meant
    # ("y en a pas assez" is "pas assez", not "y en a pas").
    kept = [
        hit for hit in kept
        if not any(other.option != hit.option and other.start > hit.start
                   and other.start < hit.end < other.end for other in kept)
    ]
    covered = [False] * len(words)
    for hit in kept:
        for k in range(hit.start, hit.end):
            covered[k] = True
    chosen: set[str] = set()
    negated: set[str] = set()
    for hit in kept:
        # A negation reaches the next thing named, not past it: "pas le bus, je marche".
        floor = max((h.end for h in kept if h.end <= hit.start), default=0)
        after = words[hit.end] if hit.end < len(words) else ""
        if negated_before(words, hit.start, floor) or after in NEGATIONS_AFTER:
            opposite = _opposite(words[hit.start:hit.end], options)
            if opposite is not None:
                # "aren't enough" says what the option "Not enough" says.
                chosen.add(opposite)
            else:
                negated.add(hit.option)
        else:
            chosen.add(hit.option)
    chosen -= negated
    hedged = has_phrase(words, HEDGES)
    leftover = [w for k, w in enumerate(words) if not covered[k]]
    clear = bool(chosen) and not negated and not hedged and all(
        w in FILLERS and w not in NEGATIONS for w in leftover)
    return ChoiceReading(
        chosen=tuple(o.id for o in options if o.id in chosen),
        negated=tuple(o.id for o in options if o.id in negated),
        hedged=hedged,
        clear=clear,
    )


def _stem(word: str) -> str:
    """A plural and its singular compare equal: 'parks' is 'park', 'pistes' is 'piste'."""
    return word[:-1] if len(word) > 3 and word[-1] in "sx" else word


def _opposite(named: list[str], options: Sequence[Option]) -> str | None:
    """The option whose label or synonym is the negation of the words named, if there is one."""
    for option in options:
        for phrase in _phrases(option):
            words = normalize(phrase).split()
            if len(words) == len(named) + 1 and words[0] in {"pas", "not", "no"} \
                    and words[1:] == named:
                return option.id
    return None


def _exact(words: list[str], options: Sequence[Option], positions: bool) -> str | None:
    joined = " ".join(words)
    for option in options:
        if any(normalize(p) == joined for p in _phrases(option)):
            return option.id
    if positions and len(words) == 1 and words[0].isdigit():
        position = int(words[0])
        if 1 <= position <= len(options):
            return options[position - 1].id
    return None


def parse_number(text: str, *, zero_words: bool = True) -> float | None:
    """The number a message gives: '12', '12,5', 'about 4 days', 'trois', 'vingt et un', 'twice';
    0 for 'jamais' or 'none' (unless `zero_words` is off). None if there is none, several, or the
    number is negated or hedged."""
    marked = _MINUS.sub(r"\1minus_\2", _DECIMAL.sub(r"\1_\2", _OUT_OF.sub(" ", text)))
    words = normalize(marked).split()
    if not words:
        return None
    if has_phrase(words, _OTHER_PERIOD):
        return None
    numbers = find_numbers(words)
    if len(numbers) == 1:
        hit = numbers[0]
        if negated_before(words, hit.start, reach=2) or has_phrase(words, ("ou plus", "or more",
                                                                            "ou moins", "or less")):
            return None
        return float(hit.value)
    if numbers:
        return None
    if zero_words and find_phrases(words, ZERO_WORDS) and not has_phrase(words, HEDGES):
        return 0.0
    return None

"""Read an age from what someone types: '16', 'j'ai seize ans', 'twenty-one', 'née en 2010',
'bientôt 15 ans', 'I'll be 18 in March'.

The result is the ages the person may be today. A birth year gives two (before or after their
birthday); the caller asks when those fall in different age bands. Anything unclear gives none:
the age question is then asked again, never taken as a refusal.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.engine.cues import HEDGES, NEGATIONS, find_phrases, has_phrase
from bot.engine.matching import normalize
from bot.engine.numbers import find_numbers

# No one typing to us is younger or older than this: '2', 'un', 'cent' are not ages.
YOUNGEST = 6
OLDEST = 99
# The age that follows is one they will reach, so today they are a year younger.
SOON = ("bientot", "presque", "almost", "nearly", "turning", "turn", "aurai", "vais avoir",
        "vas avoir", "va avoir", "will be", "ll be", "gonna be", "going to be", "about to turn",
        "bentot")
SOON_AFTER = ("next month", "le mois prochain", "next year", "soon", "bientot")
# The number that follows is a school year, not an age ('en sec 4', 'grade 10', 'year 9').
SCHOOL = frozenset({"sec", "secondaire", "grade", "year", "yr", "form", "classe", "cm", "ce",
                    "seconde", "premiere", "terminale", "college", "lycee"})
UNDER_WORDS = ("moins de", "under", "less than", "below", "pas encore", "younger than")
OVER_WORDS = ("plus de", "over", "more than", "above", "older than")
_DATE = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\b")


def possible_ages(text: str, now: datetime) -> tuple[int, ...]:
    """The ages the message gives for today, smallest first; empty when unclear."""
    date = _DATE.search(text)
    if date is not None:
        return _from_date(int(date.group(1)), int(date.group(2)), int(date.group(3)), now)
    words = normalize(text).split()
    if not words or has_phrase(words, HEDGES):
        return ()
    ages: set[int] = set()
    hits = find_numbers(words)
    for index, hit in enumerate(hits):
        following = hits[index + 1].start if index + 1 < len(hits) else len(words)
        value = int(hit.value)
        if value != hit.value:
            continue
        before = words[max(0, hit.start - 3):hit.start]
        if hit.start > 0 and words[hit.start - 1] in SCHOOL:
            continue
        # 'né en 2004' normalizes to 'ne en 2004': that 'ne' is a birth, not a negation.
        if any(w in NEGATIONS - {"ne"} for w in words[max(0, hit.start - 2):hit.start]) and not \
                find_phrases(before, UNDER_WORDS):
            return ()
        if hit.digits and now.year - 100 < value <= now.year:
            ages.update(age for age in (now.year - value - 1, now.year - value) if age >= 0)
            continue
        if find_phrases(before, UNDER_WORDS):
            value -= 1
        elif find_phrases(before, OVER_WORDS):
            value += 1
        elif find_phrases(words[max(0, hit.start - 4):hit.start], SOON) or has_phrase(
                words[hit.end:min(hit.end + 4, following)], SOON_AFTER):
            value -= 1
        ages.add(value)
    if not ages or any(a < YOUNGEST or a > OLDEST for a in ages) or max(ages) - min(ages) > 1:
        return ()
    return tuple(sorted(ages))


def _from_date(day: int, month: int, year: int, now: datetime) -> tuple[int, ...]:
    ages: set[int] = set()
    # Day first in French, month first in the US: every reading that is a real date counts.
    for d, m in {(day, month), (month, day)}:
        if 1 <= d <= 31 and 1 <= m <= 12:
            age = now.year - year - (1 if (now.month, now.day) < (m, d) else 0)
            ages.add(age)
    if not ages or any(a < YOUNGEST or a > OLDEST for a in ages):
        return ()
    return tuple(sorted(ages))

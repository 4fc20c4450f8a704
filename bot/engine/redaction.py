"""Scrub personal details out of free text before it reaches an export, a digest quote or a log.

``scrub(text)`` replaces phone numbers, e-mail addresses, @handles and links, street addresses,
school names and person names by typed placeholders ([phone], [email], [handle], [link],
[address], [school], [name]). Bus lines, times, prices, years, cities and neighbourhoods stay:
they are what a council needs to read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from bot.engine.first_names import AMBIGUOUS_FIRST_NAMES, FIRST_NAMES

# Where participants and their families live: France, Belgium, Switzerland, Canada, the US, the UK,
# Ireland, West and Central Africa, the Maghreb. Numbers in international form match in any case.
PHONE_REGIONS = ("FR", "BE", "CH", "CA", "US", "GB", "IE", "SN", "CI", "ML", "BF", "NE", "TG", "BJ",
                 "GN", "CM", "GA", "CG", "CD", "CF", "TD", "MA", "DZ", "TN", "LU", "HT")

# The shortest subscriber numbers that reach a person (e.g. Irish and Swiss mobiles without prefix).
MIN_PHONE_DIGITS = 8

PLACEHOLDERS = ("phone", "email", "handle", "link", "address", "school", "name")

_UPPER = "A-ZÀ-ÖØ-ÞŒ"
_WORD = r"[\wÀ-ÿœŒ'’-]+"
_CAP = rf"[{_UPPER}][\wÀ-ÿœ'’-]*"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(r"\b(?:https?://|www\.)\S+|\b(?:instagram|tiktok|facebook|snapchat|twitter|x|t|"
                   r"youtube|linkedin|twitch|discord)\.(?:com|me|gg|tv)/\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w.@])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
# "mon snap c'est titou_69", "my snapchat is liam_mtl": the account named after the network.
_NAMED_HANDLE = re.compile(
    r"\b(?:snap|snapchat|insta|instagram|ig|tiktok|tik tok|discord|telegram|twitter|twitch)"
    r"\s*(?::|=|c'est|c’est|est|is|:)?\s+(?!@)(?P<handle>(?=[\w.]*[\d_.])[A-Za-z0-9_.]{3,}|[a-z0-9_.]+_[a-z0-9_.]+)",
    re.IGNORECASE)
# Separated digits that look like a phone number even when the library thinks it is not valid.
_PHONE_SHAPE = re.compile(r"(?<![\w,.])(?:\+\d{1,3}[ .-]?)?(?:\(?\d{2,4}\)?[ .-]?){3,5}\d{2,4}(?![\w,.])")

_FR_STREET = (r"rue|avenue|av\.|boulevard|boul\.|bd|chemin|all[ée]e|impasse|place|quai|cours|route|"
              r"chauss[ée]e|square|rang|mont[ée]e|passage|cit[ée]|r[ée]sidence")
_EN_STREET = (r"street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|drive|dr\.?|boulevard|blvd\.?|way|"
              r"court|ct\.?|crescent|close|terrace|place|square")
_ADDRESS_FR = re.compile(
    rf"\b\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?i:{_FR_STREET})\s+(?:(?:de la|de l'|du|des|de|d'|l')\s*)?"
    rf"{_WORD}(?:[ -](?:de|du|des|la|le)(?=[ -]{_CAP}))?(?:[ -]{_CAP})*")
_ADDRESS_EN = re.compile(
    rf"\b\d{{1,5}}\s+(?:[A-Za-z][\w'-]*\s+){{1,3}}(?:{_EN_STREET})(?![\w])", re.IGNORECASE)

_SCHOOL_FR = re.compile(
    rf"\b(?:lyc[ée]e|coll[èe]ge|[ée]cole(?: primaire| secondaire| priv[ée]e)?|c[ée]gep|polyvalente|"
    rf"ath[ée]n[ée]e|institut)\s+(?:(?:de la|de l'|du|des|de|d')\s*)?"
    rf"(?:{_CAP}|saint|sainte|st|ste)(?:[ -](?:{_CAP}|de|du|des|la|le)(?=[ -]?{_CAP}))*(?:[ -]{_CAP})*")
_SCHOOL_EN = re.compile(
    rf"\b(?:{_CAP}\s+){{1,3}}(?:High School|High|Secondary School|Secondary|Academy|Primary School|"
    rf"Middle School|Elementary School|Elementary|College|School)\b")

# Words after which the next capitalised word (or words) is a person's name.
_NAME_CONTEXT = re.compile(
    r"(?:je m'appelle|je m’appelle|jm'appelle|moi c'est|moi c’est|c'est moi|my name is|my name's|"
    r"i'm|i am|call me|\bm\.|\bmme|\bmlle|\bmr\.?|\bmrs\.?|\bms\.?|\bmiss|\bmonsieur|\bmadame|\bdr\.?)"
    r"\s+$", re.IGNORECASE)
_TITLES = re.compile(r"^(?:m\.|mme|mlle|mr\.?|mrs\.?|ms\.?|miss|monsieur|madame|dr\.?)$",
                     re.IGNORECASE)
_TOKEN = re.compile(r"[\wÀ-ÿœŒ.'’-]+")
_SAINT = re.compile(r"\b(?:saint|sainte|st|ste|notre-dame-de|rue|avenue|boulevard|place)[ -]$",
                    re.IGNORECASE)

_NAMES = FIRST_NAMES - AMBIGUOUS_FIRST_NAMES


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def scrub(text: str) -> str:
    """The text with every personal detail found replaced by its typed placeholder."""
    spans = _resolve(find_spans(text))
    out: list[str] = []
    position = 0
    for span in spans:
        out.append(text[position:span.start])
        out.append(f"[{span.kind}]")
        position = span.end
    out.append(text[position:])
    return "".join(out)


def find_spans(text: str) -> list[Span]:
    """Every personal detail found, possibly overlapping; earlier kinds win when they do."""
    spans: list[Span] = []
    spans += [Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    spans += [Span(m.start(), m.end(), "link") for m in _LINK.finditer(text)]
    spans += [Span(m.start(), m.end(), "handle") for m in _HANDLE.finditer(text)]
    spans += [Span(m.start("handle"), m.end("handle"), "handle") for m in _NAMED_HANDLE.finditer(text)]
    spans += list(_phones(text))
    spans += [Span(m.start(), m.end(), "address") for m in _ADDRESS_FR.finditer(text)]
    spans += [Span(m.start(), m.end(), "address") for m in _ADDRESS_EN.finditer(text)]
    spans += [Span(m.start(), m.end(), "school") for m in _SCHOOL_FR.finditer(text)]
    spans += [Span(m.start(), m.end(), "school") for m in _SCHOOL_EN.finditer(text)]
    spans += list(_names(text))
    return spans


def _resolve(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans in text order: a span overlapping one already kept is dropped."""
    rank = {kind: index for index, kind in enumerate(PLACEHOLDERS)}
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (rank[s.kind], -(s.end - s.start), s.start)):
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def _phones(text: str) -> Iterator[Span]:
    seen: set[tuple[int, int]] = set()
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            # Short numbers valid somewhere (a year, a bus line) are not a way to reach someone.
            if sum(c.isdigit() for c in match.raw_string) < MIN_PHONE_DIGITS:
                continue
            if (match.start, match.end) not in seen:
                seen.add((match.start, match.end))
                yield Span(match.start, match.end, "phone")
    for shape in _PHONE_SHAPE.finditer(text):
        digits = sum(c.isdigit() for c in shape.group())
        if MIN_PHONE_DIGITS <= digits <= 15:
            yield Span(shape.start(), shape.end(), "phone")


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\n"


def _names(text: str) -> Iterator[Span]:
    tokens = [(m.start(), m.end(), m.group().rstrip(".'’")) for m in _TOKEN.finditer(text)]
    index = 0
    while index < len(tokens):
        start, _end, word = tokens[index]
        folded = _fold(word)
        capital = word[:1].isupper()
        after_context = _NAME_CONTEXT.search(text[max(0, start - 20):start]) is not None
        is_name = (
            (_first_name(folded) and not _SAINT.search(text[max(0, start - 16):start]))
            or (folded in AMBIGUOUS_FIRST_NAMES and capital and not _sentence_start(text, start))
            or (after_context and capital and not _TITLES.match(word))
        )
        if not is_name:
            index += 1
            continue
        # A title stays with the name it introduces: "Mme Girard" is one person.
        title = _title_before(tokens, index)
        span_start = tokens[index - 1][0] if title else start
        span_end = start + len(word)
        # A capitalised word right after a first name is the surname.
        while index + 1 < len(tokens) and tokens[index + 1][2][:1].isupper() and \
                text[span_end:tokens[index + 1][0]].strip() == "" and \
                _fold(tokens[index + 1][2]) not in _NOT_SURNAMES:
            index += 1
            span_end = tokens[index][0] + len(tokens[index][2])
        yield Span(span_start, span_end, "name")
        index += 1


def _first_name(folded: str) -> bool:
    """A first name, or a compound one ("jean-pierre", "marie-claire"): every part a first name
    (two words that can each be a name are one only together), so "saint-jean", "jean-macé" and
    "croix-rousse" stay."""
    if folded in _NAMES:
        return True
    parts = folded.split("-")
    return len(parts) > 1 and all(p in FIRST_NAMES or p in AMBIGUOUS_FIRST_NAMES for p in parts)


def _title_before(tokens: list[tuple[int, int, str]], index: int) -> bool:
    return index > 0 and _TITLES.match(tokens[index - 1][2] + ("." if tokens[index - 1][2] in
                                                               {"M", "Mr", "Dr"} else "")) is not None


# Capitalised words that follow a name without being a surname ("Inès Et", "Sarah I").
_NOT_SURNAMES = frozenset({"et", "and", "i", "je", "de", "du", "la", "le", "a", "à"})

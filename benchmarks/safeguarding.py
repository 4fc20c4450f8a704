"""How well safeguarding and scrubbing do on labelled sets written for the project.

    python -m benchmarks.safeguarding [--dev]

Prints, on the held-out part (never used to tune the lexicon or the scrubber; --dev for the
tuning part): disclosure recall, false alarms on benign look-alikes, PII span recall and the share
of non-PII words removed, with the time per message (medians of detect and of scrub).
Targets: recall >= 0.95, false alarms <= 5%, PII span recall >= 0.95, non-PII words removed <= 5%.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.engine.redaction import scrub
from bot.engine.safeguarding import Lexicon
from bot.lexicon import load_lexicon

DATA = Path(__file__).resolve().parent / "data" / "safeguarding"
_MARK = re.compile(r"\[\[(\w+):(.+?)\]\]")
_WORDS = re.compile(r"[\wÀ-ÿ]+")


def rows(path: Path) -> Iterator[list[str]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


@dataclass(frozen=True)
class Marked:
    """A free-text answer with its PII spans (start, end, kind) in the plain text."""

    text: str
    spans: tuple[tuple[int, int, str], ...]


def marked(raw: str) -> Marked:
    plain: list[str] = []
    spans: list[tuple[int, int, str]] = []
    position = 0
    length = 0
    for match in _MARK.finditer(raw):
        plain.append(raw[position:match.start()])
        length += match.start() - position
        spans.append((length, length + len(match.group(2)), match.group(1)))
        plain.append(match.group(2))
        length += len(match.group(2))
        position = match.end()
    plain.append(raw[position:])
    return Marked("".join(plain), tuple(spans))


@dataclass
class Figures:
    disclosures: int
    detected: int
    benign: int
    false_alarms: int
    pii_spans: int
    pii_found: int
    other_words: int
    other_removed: int
    missed: list[str]
    alarms: list[str]
    leaks: list[str]
    eaten: list[str]


def measure(lexicon: Lexicon, part: str) -> tuple[Figures, list[float], list[float]]:
    timings: list[float] = []
    scrubbing: list[float] = []
    missed, alarms, leaks, eaten = [], [], [], []
    detected = disclosures = 0
    for category, _language, text in rows(DATA / f"disclosures_{part}.tsv"):
        disclosures += 1
        started = time.perf_counter()
        found = lexicon.detect(text)
        timings.append(time.perf_counter() - started)
        if found is not None and category in found.categories:
            detected += 1
        else:
            missed.append(f"{category}: {text}")
    benign = false_alarms = 0
    for _language, text in rows(DATA / f"benign_{part}.tsv"):
        benign += 1
        if lexicon.detect(text) is not None:
            false_alarms += 1
            alarms.append(text)
    pii_spans = pii_found = other_words = other_removed = 0
    for _language, raw in rows(DATA / f"pii_{part}.tsv"):
        answer = marked(raw)
        started = time.perf_counter()
        cleaned = scrub(answer.text)
        scrubbing.append(time.perf_counter() - started)
        for start, end, kind in answer.spans:
            pii_spans += 1
            if answer.text[start:end] not in cleaned and f"[{kind}]" in cleaned:
                pii_found += 1
            else:
                leaks.append(f"{kind} {answer.text[start:end]!r} in {cleaned!r}")
        inside = {i for start, end, _ in answer.spans for i in range(start, end)}
        kept = Counter(_WORDS.findall(cleaned))
        for word in _WORDS.finditer(answer.text):
            if word.start() in inside:
                continue
            other_words += 1
            if kept[word.group()] > 0:
                kept[word.group()] -= 1
            else:
                other_removed += 1
                eaten.append(f"{word.group()!r} in {cleaned!r}")
    return Figures(disclosures, detected, benign, false_alarms, pii_spans, pii_found, other_words,
                   other_removed, missed, alarms, leaks, eaten), timings, scrubbing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="the tuning part, with every miss listed")
    args = parser.parse_args(argv)
    part = "dev" if args.dev else "heldout"
    figures, timings, scrubbing = measure(load_lexicon(), part)
    recall = figures.detected / figures.disclosures
    alarms = figures.false_alarms / figures.benign
    span_recall = figures.pii_found / figures.pii_spans
    removed = figures.other_removed / figures.other_words
    print(f"part: {part}")
    print(f"disclosure recall: {recall:.3f} ({figures.detected}/{figures.disclosures}; target >= 0.95)")
    print(f"false alarms on look-alikes: {alarms:.1%} ({figures.false_alarms}/{figures.benign}; "
          f"target <= 5%)")
    print(f"PII span recall: {span_recall:.3f} ({figures.pii_found}/{figures.pii_spans}; target >= 0.95)")
    print(f"non-PII words removed: {removed:.1%} ({figures.other_removed}/{figures.other_words}; "
          f"target <= 5%)")
    print(f"time per message: detect median {statistics.median(timings) * 1e3:.3f} ms, "
          f"scrub median {statistics.median(scrubbing) * 1e3:.3f} ms")
    if args.dev:
        for label, items in (("missed", figures.missed), ("false alarm", figures.alarms),
                             ("leak", figures.leaks), ("eaten", figures.eaten)):
            for item in items:
                print(f"  {label}: {item}")
    ok = recall >= 0.95 and alarms <= 0.05 and span_recall >= 0.95 and removed <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Scoring the NLU on the held-out set, through the running server, overall and per language.

Held-out files are Rasa NLU YAML under nlu/tests/. A file's language comes from its path: a file
name or folder with `fr` or `en` as a separate token (nlu/tests/heldout_fr.yml, nlu/tests/en/...).
A file in a folder belongs to the group named by that folder (nlu/tests/east-africa/en.yml is in
`east-africa`, nlu/tests/mixed/fr.yml in `mixed`): scores are also given for each group.
The metrics are computed here from parses through the same HTTP API the bot uses, so they measure
the model as it is served; a message that falls back counts as predicted `nlu_fallback`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.engine.understanding import Understanding
from nlu.client import FALLBACK_INTENT

LANGUAGES = ("fr", "en")
# `[Croix-Rousse](neighbourhood)` or `[Croix-Rousse]{"entity": "neighbourhood"}` -> `Croix-Rousse`
_ENTITY_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_TOKEN = re.compile(r"[a-z]+")


class EvaluationError(RuntimeError):
    """The held-out set cannot be read or the server did not answer."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str | None
    source: Path
    group: str | None = None


@dataclass(frozen=True)
class IntentScore:
    intent: str
    support: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Scores:
    """Per-intent scores of one set of examples; macro-F1 averages the intents of that set."""

    intents: tuple[IntentScore, ...]
    examples: int
    accuracy: float
    macro_f1: float
    confusions: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Report:
    overall: Scores
    by_language: dict[str, Scores]
    unlabelled_files: tuple[Path, ...]
    # Per folder of held-out files (region groups, mixed-language messages); top-level files in none.
    by_group: dict[str, Scores] = field(default_factory=dict)
    # Per group and language, e.g. "europe/fr".
    by_group_language: dict[str, Scores] = field(default_factory=dict)

    def weakest(self, count: int = 5) -> list[IntentScore]:
        """The intents with the lowest F1 over the whole set."""
        return sorted(self.overall.intents, key=lambda s: (s.f1, s.intent))[:count]


def language_of(path: Path, base: Path) -> str | None:
    """`fr` or `en` when exactly one of them is a token of the path below `base`."""
    tokens = set(_TOKEN.findall(path.relative_to(base).with_suffix("").as_posix().lower()))
    found = [language for language in LANGUAGES if language in tokens]
    return found[0] if len(found) == 1 else None


def group_of(path: Path, base: Path) -> str | None:
    """The first folder of `path` below `base`, or None for a file directly in `base`."""
    parts = path.relative_to(base).parts
    return parts[0] if len(parts) > 1 else None


def strip_annotations(example: str) -> str:
    return _ENTITY_ANNOTATION.sub(r"\1", example)


def load_examples(folder: Path) -> list[Example]:
    """Every intent example of the Rasa NLU YAML files under `folder`."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        raise EvaluationError(f"no held-out file (*.yml) under {folder}")
    examples: list[Example] = []
    for path in files:
        examples.extend(_examples_of(path, language_of(path, folder), group_of(path, folder)))
    if not examples:
        raise EvaluationError(f"the files under {folder} hold no intent example")
    return examples


def _examples_of(path: Path, language: str | None, group: str | None) -> Iterable[Example]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise EvaluationError(f"{path} is not valid YAML: {error}") from error
    items = document.get("nlu", []) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise EvaluationError(f"{path}: expected a mapping with an `nlu:` list")
    for item in items:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        intent = str(item["intent"])
        for text in _example_texts(item.get("examples"), path, intent):
            yield Example(
                text=strip_annotations(text), intent=intent, language=language, source=path, group=group
            )


def _example_texts(examples: object, path: Path, intent: str) -> list[str]:
    # Rasa accepts a block of `- text` lines or a list of {text: ..., metadata: ...}.
    if isinstance(examples, str):
        lines = [line.strip() for line in examples.splitlines()]
        return [line[2:].strip() for line in lines if line.startswith("- ") and line[2:].strip()]
    if isinstance(examples, list):
        texts = [entry.get("text") for entry in examples if isinstance(entry, dict)]
        return [text for text in texts if isinstance(text, str) and text.strip()]
    raise EvaluationError(f"{path}: intent {intent!r} has no examples block")


def predicted_intent(understanding: Understanding) -> str:
    return understanding.intent.name if understanding.intent is not None else FALLBACK_INTENT


def score(pairs: Sequence[tuple[str, str]], confusions: int = 10) -> Scores:
    """Scores for (expected, predicted) pairs, over the expected intents."""
    if not pairs:
        raise EvaluationError("nothing to score")
    gold = Counter(expected for expected, _ in pairs)
    predicted = Counter(guess for _, guess in pairs)
    correct = Counter(expected for expected, guess in pairs if expected == guess)
    intents: list[IntentScore] = []
    for intent in sorted(gold):
        true_positives = correct[intent]
        precision = true_positives / predicted[intent] if predicted[intent] else 0.0
        recall = true_positives / gold[intent]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        intents.append(IntentScore(intent, gold[intent], precision, recall, f1))
    mistakes = Counter((expected, guess) for expected, guess in pairs if expected != guess)
    return Scores(
        intents=tuple(intents),
        examples=len(pairs),
        accuracy=sum(correct.values()) / len(pairs),
        macro_f1=sum(s.f1 for s in intents) / len(intents),
        confusions=tuple(
            (expected, guess, count)
            for (expected, guess), count in sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))[
                :confusions
            ]
        ),
    )


def evaluate(examples: Sequence[Example], parse: Callable[[str], Understanding | None]) -> Report:
    """Parse every example and score the predictions; raise if the server stops answering."""
    predictions: list[tuple[Example, str]] = []
    for example in examples:
        understanding = parse(example.text)
        if understanding is None:
            raise EvaluationError(f"the NLU server gave no answer for {example.text!r}")
        predictions.append((example, predicted_intent(understanding)))
    by_language = {
        language: score([(e.intent, guess) for e, guess in predictions if e.language == language])
        for language in LANGUAGES
        if any(e.language == language for e, _ in predictions)
    }
    groups = sorted({e.group for e in examples if e.group is not None})
    by_group = {
        group: score([(e.intent, guess) for e, guess in predictions if e.group == group])
        for group in groups
    }
    by_group_language = {
        f"{group}/{language}": score(
            [(e.intent, guess) for e, guess in predictions if (e.group, e.language) == (group, language)]
        )
        for group in groups
        for language in LANGUAGES
        if any((e.group, e.language) == (group, language) for e, _ in predictions)
    }
    return Report(
        overall=score([(e.intent, guess) for e, guess in predictions]),
        by_language=by_language,
        unlabelled_files=tuple(sorted({e.source for e in examples if e.language is None})),
        by_group=by_group,
        by_group_language=by_group_language,
    )


def format_scores(title: str, scores: Scores) -> str:
    width = max([len("intent"), *(len(s.intent) for s in scores.intents)])
    lines = [
        f"{title}: {scores.examples} examples, accuracy {scores.accuracy:.3f}, "
        f"macro-F1 {scores.macro_f1:.3f}",
        f"  {'intent':<{width}}  {'n':>4}  {'prec':>5}  {'rec':>5}  {'F1':>5}",
    ]
    lines.extend(
        f"  {s.intent:<{width}}  {s.support:>4}  {s.precision:>5.2f}  {s.recall:>5.2f}  {s.f1:>5.2f}"
        for s in scores.intents
    )
    if scores.confusions:
        lines.append("  most frequent confusions (expected -> predicted):")
        lines.extend(
            f"    {count:>3} x  {expected} -> {guess}" for expected, guess, count in scores.confusions
        )
    return "\n".join(lines)


def format_summary(report: Report) -> str:
    """One line per language, group and group/language: accuracy and macro-F1, then the weakest."""
    rows = [("overall", report.overall), *report.by_language.items(), *report.by_group.items(),
            *report.by_group_language.items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {'set':<{width}}  {'n':>5}  {'accuracy':>8}  {'macro-F1':>8}"]
    lines.extend(
        f"  {name:<{width}}  {s.examples:>5}  {s.accuracy:>8.3f}  {s.macro_f1:>8.3f}" for name, s in rows
    )
    lines.append("  weakest intents (F1): " + ", ".join(
        f"{s.intent} {s.f1:.2f}" for s in report.weakest()))
    return "summary\n" + "\n".join(lines)


def format_report(report: Report) -> str:
    parts = [format_scores("overall", report.overall)]
    parts.extend(format_scores(language, scores) for language, scores in report.by_language.items())
    parts.append(format_summary(report))
    if report.unlabelled_files:
        parts.append(
            "counted in overall only (no fr/en in the path): "
            + ", ".join(str(path) for path in report.unlabelled_files)
        )
    return "\n\n".join(parts)


def report_dict(report: Report) -> dict[str, object]:
    """The report as plain JSON-ready values, for CI artefacts."""

    def scores_dict(scores: Scores) -> dict[str, object]:
        return {
            "examples": scores.examples,
            "accuracy": scores.accuracy,
            "macro_f1": scores.macro_f1,
            "intents": {
                s.intent: {"support": s.support, "precision": s.precision, "recall": s.recall, "f1": s.f1}
                for s in scores.intents
            },
            "confusions": [
                {"expected": expected, "predicted": guess, "count": count}
                for expected, guess, count in scores.confusions
            ],
        }

    return {
        "overall": scores_dict(report.overall),
        "by_language": {language: scores_dict(s) for language, s in report.by_language.items()},
        "unlabelled_files": [str(path) for path in report.unlabelled_files],
        "by_group": {group: scores_dict(s) for group, s in report.by_group.items()},
        "by_group_language": {name: scores_dict(s) for name, s in report.by_group_language.items()},
    }

"""Aggregates in, a council's digest out: pure, so every figure can be checked against a dataset.

Each question's counts form one system: its distribution, the same answers by age band and by
neighbourhood, and the totals they share. Suppression runs on the whole system at once, so a count
hidden in one table cannot be recovered from a neighbouring one.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digests.model import (
    Breakdown,
    CampaignProgress,
    Digest,
    Figure,
    QuestionKind,
    QuestionSummary,
    Quote,
    Row,
)
from digests.suppression import Equation, suppress
from digests.wording import say
from digests.wording import topic as topic_label
from storage.reports import CityAggregates, Group, QuestionKey

AGE, PLACE = "age_band", "neighbourhood"
DIMENSIONS = (AGE, PLACE)
NUMBER_BINS = 5
# Row key of free-text answers without a topic.
NO_TOPIC = "~"


@dataclass(frozen=True)
class CouncilView:
    """What the builder needs to know about the council and its city."""

    council_id: str
    council_name: str
    city_name: str
    language: str
    min_cell_size: int
    # (id, label in the council's language), in the order the configuration gives them.
    age_bands: tuple[tuple[str, str], ...]
    neighbourhoods: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Question:
    campaign_id: str
    id: str
    type: str
    title: str
    options: tuple[tuple[str, str], ...]
    min: float | None
    max: float | None


def choose_quotes(candidates: Sequence[tuple[str, str]], topics: Mapping[str | None, int],
                  k: int, language: str = "fr", limit: int = 5) -> tuple[Quote, ...]:
    """Up to ``limit`` quotes on different topics, most talked-about topics first; only topics at
    least ``k`` people wrote about, so a quote never stands for a small group."""
    first: dict[str, str] = {}
    for name, text in candidates:
        first.setdefault(name, text)
    ranked = sorted((name for name in first if topics.get(name, 0) >= k),
                    key=lambda name: (-topics.get(name, 0), name))
    return tuple(Quote(first[name], topic_label(language, name)) for name in ranked[:limit])


def build_digest(council: CouncilView, current: CityAggregates, previous: CityAggregates | None,
                 definitions: Mapping[str, Mapping[str, Any]], *, start: datetime, end: datetime,
                 generated_at: datetime, quotes: Sequence[tuple[str, str]] = (),
                 reply_reached: int | None = None) -> Digest:
    """The digest of ``current`` (``previous``: the period before, for the changes); ``quotes`` are
    candidates (topic, scrubbed text) from :func:`storage.reports.quote_candidates`."""
    k = council.min_cell_size
    questions = _questions(definitions, council.language)
    summaries = []
    for question in questions:
        key = (question.campaign_id, question.id)
        if not any(q == key for q, _ in current.answered) and key not in current.skipped:
            continue
        now = _summarise(question, current, council)
        if previous is not None:
            now = _with_changes(now, _summarise(question, previous, council))
        summaries.append(now)
    participants, by_group = _participation(current, council)
    campaigns = _campaigns(current, definitions, council)
    previous_count = None
    if previous is not None:
        earlier, _ = _participation(previous, council)
        previous_count = earlier.count
    reached = reply_reached if reply_reached is None or reply_reached >= k else 0
    return Digest(
        council_id=council.council_id, council_name=council.council_name, city_name=council.city_name,
        language=council.language, start=start, end=end, generated_at=generated_at, min_cell_size=k,
        participants=participants, previous_participants=previous_count, answers=current.answers,
        campaigns=campaigns, participants_by=by_group, questions=tuple(summaries),
        quotes=choose_quotes(quotes, _topic_totals(current), k, council.language), reply_reached=reached)


def _topic_totals(data: CityAggregates) -> dict[str | None, int]:
    totals: dict[str | None, int] = {}
    for (_, topic), count in data.topics.items():
        totals[topic] = totals.get(topic, 0) + count
    return totals


def _questions(definitions: Mapping[str, Mapping[str, Any]], language: str) -> list[_Question]:
    found = []
    for campaign_id, definition in definitions.items():
        for raw in definition.get("questions", ()):
            options = tuple((str(option["id"]), _text(option.get("label"), language, str(option["id"])))
                            for option in raw.get("options", ()))
            if raw.get("type") == "scale" and options:
                # A scale's ends say what 1 and 5 mean.
                ends = {options[0][0]: raw.get("low_label"), options[-1][0]: raw.get("high_label")}
                options = tuple(
                    (key, f"{label} — {_text(ends[key], language, '')}" if ends.get(key) else label)
                    for key, label in options)
            found.append(_Question(campaign_id, str(raw["id"]), str(raw.get("type", "")),
                                   _text(raw.get("text"), language, str(raw["id"])), options,
                                   raw.get("min"), raw.get("max")))
    return found


def _text(value: Any, language: str, fallback: str) -> str:
    if isinstance(value, Mapping):
        return str(value.get(language) or value.get("fr") or value.get("en") or fallback)
    return fallback


def _kind(question: _Question) -> QuestionKind:
    if question.type == "multiple_choice":
        return QuestionKind.MULTIPLE
    if question.type == "number":
        return QuestionKind.NUMBER
    if question.type == "text":
        return QuestionKind.TEXT
    return QuestionKind.CHOICE


def _groups(council: CouncilView, dimension: str, seen: set[str | None]) -> list[tuple[str | None, str]]:
    """The groups of a dimension in configuration order, then any others, then the unknown."""
    known = council.age_bands if dimension == AGE else council.neighbourhoods
    label = {key: name for key, name in known}
    ordered: list[tuple[str | None, str]] = [(key, label[key]) for key, _ in known if key in seen]
    ordered += [(key, key) for key in sorted(k for k in seen if k is not None and k not in label)]
    if None in seen:
        ordered.append((None, say(council.language, "unknown_group")))
    if dimension == AGE:
        ordered = [(key, say(council.language, "age_band_label", band=name) if key is not None else name)
                   for key, name in ordered]
    return ordered


def _of(group: Group, dimension: str) -> str | None:
    return group[0] if dimension == AGE else group[1]


def _bins(question: _Question, values: set[float]) -> list[tuple[str, float, float]]:
    """Up to five ranges of whole numbers covering the question's range (or the answers')."""
    low = math.floor(min([*values, *([question.min] if question.min is not None else [])], default=0.0))
    high = math.ceil(max([*values, *([question.max] if question.max is not None else [])], default=0.0))
    width = max(1, math.ceil((high - low + 1) / NUMBER_BINS))
    bins = []
    start = low
    while start <= high:
        stop = min(high, start + width - 1)
        label = f"{start}" if start == stop else f"{start}–{stop}"
        bins.append((label, float(start), float(stop)))
        start = stop + 1
    return bins


@dataclass
class _Counts:
    """One question's counts before suppression: rows overall and per group of each dimension."""

    rows: list[tuple[str, str]]
    total: int
    per_row: dict[str, int]
    group_total: dict[tuple[str, str | None], int]
    per_group_row: dict[tuple[str, str | None, str], int]
    groups: dict[str, list[tuple[str | None, str]]]
    median: float | None = None


def _counts(question: _Question, data: CityAggregates, council: CouncilView) -> _Counts:
    key: QuestionKey = (question.campaign_id, question.id)
    kind = _kind(question)
    answered = {group: count for (q, group), count in data.answered.items() if q == key}
    seen = {dimension: {_of(group, dimension) for group in answered} for dimension in DIMENSIONS}
    groups = {dimension: _groups(council, dimension, seen[dimension]) for dimension in DIMENSIONS}
    per_group_row: dict[tuple[str, str | None, str], int] = {}
    per_row: dict[str, int] = {}
    median = None
    if kind is QuestionKind.TEXT:
        topics = {topic: count for (q, topic), count in data.topics.items() if q == key}
        ordered = sorted(topics, key=lambda t: (t is None, -topics[t], t or ""))
        rows = [(t if t is not None else NO_TOPIC,
                 topic_label(council.language, t) if t is not None else say(council.language, "no_topic"))
                for t in ordered]
        per_row = {(t if t is not None else NO_TOPIC): topics[t] for t in ordered}
        return _Counts(rows, sum(per_row.values()), per_row, {}, {}, {})
    if kind is QuestionKind.NUMBER:
        numbers = {(group, value): count for (q, group, value), count in data.numbers.items() if q == key}
        bins = _bins(question, {value for _, value in numbers})
        rows = [(label, label) for label, _, _ in bins]

        def row_of(value: float) -> str:
            return next((label for label, _, high in bins if value <= high), bins[-1][0])

        by_group_row: dict[tuple[Group, str], int] = {}
        histogram: dict[float, int] = {}
        for (group, value), count in numbers.items():
            cell = (group, row_of(value))
            by_group_row[cell] = by_group_row.get(cell, 0) + count
            histogram[value] = histogram.get(value, 0) + count
        median = _median(histogram)
    else:
        rows = list(question.options)
        by_group_row = {(group, option): count for (q, group, option), count in data.options.items()
                        if q == key}
        known = {option for option, _ in rows}
        rows += [(option, option) for option in sorted({o for _, o in by_group_row} - known)]
    for (profile, row_key), count in by_group_row.items():
        per_row[row_key] = per_row.get(row_key, 0) + count
        for dimension in DIMENSIONS:
            place = (dimension, _of(profile, dimension), row_key)
            per_group_row[place] = per_group_row.get(place, 0) + count
    group_total: dict[tuple[str, str | None], int] = {}
    for profile, count in answered.items():
        for dimension in DIMENSIONS:
            slot = (dimension, _of(profile, dimension))
            group_total[slot] = group_total.get(slot, 0) + count
    total = sum(answered.values())
    if kind is not QuestionKind.MULTIPLE:
        # One option per answer: the totals are the sums, so the equations hold exactly.
        total = sum(per_row.values())
        group_total = {}
        for (dimension, group_key, _), count in per_group_row.items():
            group_total[(dimension, group_key)] = group_total.get((dimension, group_key), 0) + count
    return _Counts(rows, total, per_row, group_total, per_group_row, groups, median)


def _median(histogram: Mapping[float, int]) -> float | None:
    total = sum(histogram.values())
    if total == 0:
        return None
    ordered = sorted(histogram.items())
    middle = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for value, count in ordered:
        for position in middle:
            if seen <= position < seen + count:
                found.append(value)
        seen += count
    return sum(found) / len(found)


def _hidden(counts: _Counts, kind: QuestionKind, k: int) -> frozenset[Hashable]:
    values: dict[Hashable, int] = {("all",): counts.total}
    equations: list[Equation[Hashable]] = []
    for row, _ in counts.rows:
        values[("row", row)] = counts.per_row.get(row, 0)
    if kind is QuestionKind.MULTIPLE:
        for row, _ in counts.rows:
            values[("not", row)] = max(0, counts.total - counts.per_row.get(row, 0))
            equations.append(Equation(("all",), (("row", row), ("not", row))))
    elif counts.rows:
        equations.append(Equation(("all",), tuple(("row", row) for row, _ in counts.rows)))
    for dimension, groups in counts.groups.items():
        for group, _ in groups:
            group_cell = ("group", dimension, group)
            values[group_cell] = counts.group_total.get((dimension, group), 0)
            cells = []
            for row, _ in counts.rows:
                cell = ("cell", dimension, group, row)
                values[cell] = counts.per_group_row.get((dimension, group, row), 0)
                cells.append(cell)
                if kind is QuestionKind.MULTIPLE:
                    other = ("cellnot", dimension, group, row)
                    values[other] = max(0, values[group_cell] - values[cell])
                    equations.append(Equation(group_cell, (cell, other)))
            if kind is not QuestionKind.MULTIPLE and cells:
                equations.append(Equation(group_cell, tuple(cells)))
        if groups:
            equations.append(Equation(("all",), tuple(("group", dimension, g) for g, _ in groups)))
            for row, _ in counts.rows:
                equations.append(Equation(("row", row),
                                          tuple(("cell", dimension, g, row) for g, _ in groups)))
    invisible = [cell for cell in values if isinstance(cell, tuple) and cell[0] in ("not", "cellnot")]
    return suppress(values, equations, k, invisible)


def _figure(count: int, base: int, hidden: bool, base_hidden: bool) -> Figure:
    if hidden:
        return Figure(None)
    share = count / base if base > 0 and not base_hidden else None
    return Figure(count, share)


def _summarise(question: _Question, data: CityAggregates, council: CouncilView) -> QuestionSummary:
    kind = _kind(question)
    counts = _counts(question, data, council)
    hidden = _hidden(counts, kind, council.min_cell_size)
    all_hidden = ("all",) in hidden
    rows = tuple(Row(row, label, _figure(counts.per_row.get(row, 0), counts.total, ("row", row) in hidden,
                                         all_hidden)) for row, label in counts.rows)
    breakdowns = []
    for dimension, groups in counts.groups.items():
        group_rows, cells = [], []
        for group, label in groups:
            total = counts.group_total.get((dimension, group), 0)
            total_hidden = ("group", dimension, group) in hidden
            group_rows.append(Row(group or "", label, _figure(total, counts.total, total_hidden, all_hidden)))
            cells.append(tuple(
                _figure(counts.per_group_row.get((dimension, group, row), 0), total,
                        ("cell", dimension, group, row) in hidden, total_hidden)
                for row, _ in counts.rows))
        breakdowns.append(Breakdown(dimension, tuple(group_rows), tuple(cells)))
    median = counts.median if counts.total >= council.min_cell_size else None
    return QuestionSummary(
        campaign_id=question.campaign_id, question_id=question.id, title=question.title, kind=kind,
        answered=Figure(None) if all_hidden else Figure(counts.total), rows=rows,
        breakdowns=tuple(breakdowns) if kind is not QuestionKind.TEXT else (), median=median)


def _with_changes(now: QuestionSummary, before: QuestionSummary) -> QuestionSummary:
    earlier = {row.key: row.figure.share for row in before.rows}
    rows = []
    for row in now.rows:
        share, old = row.figure.share, earlier.get(row.key)
        change = (share - old) * 100 if share is not None and old is not None else None
        rows.append(Row(row.key, row.label, Figure(row.figure.count, share, change)))
    return QuestionSummary(now.campaign_id, now.question_id, now.title, now.kind, now.answered,
                           tuple(rows), now.breakdowns, now.median)


def _participation(data: CityAggregates, council: CouncilView) -> tuple[Figure, tuple[Breakdown, ...]]:
    k = council.min_cell_size
    values: dict[Hashable, int] = {("distinct",): data.participants}
    equations: list[Equation[Hashable]] = []
    groups: dict[str, list[tuple[str | None, str]]] = {}
    grid_total = sum(data.participants_by_group.values())
    # The breakdowns add up to the distinct count unless someone moved during the period.
    total_cell: tuple[str, ...] = ("distinct",) if grid_total == data.participants else ("sum",)
    values[total_cell] = grid_total
    for dimension in DIMENSIONS:
        per: dict[str | None, int] = {}
        for group, count in data.participants_by_group.items():
            per[_of(group, dimension)] = per.get(_of(group, dimension), 0) + count
        groups[dimension] = _groups(council, dimension, set(per))
        for value, count in per.items():
            values[(dimension, value)] = count
        if per:
            equations.append(Equation(total_cell, tuple((dimension, g) for g, _ in groups[dimension])))
    hidden = suppress(values, equations, k)
    total = Figure(None) if ("distinct",) in hidden else Figure(data.participants)
    breakdowns = []
    for dimension in DIMENSIONS:
        rows = tuple(Row(g or "", label, _figure(values[(dimension, g)], grid_total,
                                                 (dimension, g) in hidden, total_cell in hidden))
                     for g, label in groups[dimension])
        breakdowns.append(Breakdown(dimension, rows, tuple((row.figure,) for row in rows)))
    return total, tuple(breakdowns)


def _campaigns(data: CityAggregates, definitions: Mapping[str, Mapping[str, Any]],
               council: CouncilView) -> tuple[CampaignProgress, ...]:
    found = []
    for campaign_id, participants in sorted(data.participants_by_campaign.items()):
        completed = sum(count for (campaign, _), count in data.completions.items() if campaign == campaign_id)
        completed = min(completed, participants)
        values: dict[Hashable, int] = {("all",): participants, ("done",): completed,
                                       ("open",): participants - completed}
        split: list[Equation[Hashable]] = [Equation(("all",), (("done",), ("open",)))]
        hidden = suppress(values, split, council.min_cell_size)
        title = _text(definitions.get(campaign_id, {}).get("title"), council.language, campaign_id)
        found.append(CampaignProgress(
            campaign_id, title, _figure(participants, participants, ("all",) in hidden, False),
            _figure(completed, participants, ("done",) in hidden, ("all",) in hidden)))
    return tuple(found)

"""`youthvoice campaign status`: a campaign's progress in a table, small groups hidden."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from bot.engine.survey import Survey
from storage.campaign_reports import METRICS, Group

HEADINGS = {
    "targeted": "targeted", "invited": "invited", "failed": "failed",
    "started": "started", "completed": "completed", "not_now": "not now", "stopped": "stopped",
    "reminded": "reminded",
}


def shown(count: int, k: int) -> str:
    """A count as published: groups of 1 to k-1 people are shown as "< k", never exactly."""
    return f"< {k}" if 0 < count < k else str(count)


def _table(title: str, rows: list[tuple[str, Counter[str]]], k: int) -> list[str]:
    label_width = max([len(title), *(len(label) for label, _ in rows)])
    widths = [max(len(HEADINGS[m]), 5) for m in METRICS]
    lines = [title.ljust(label_width) + "  " + "  ".join(
        HEADINGS[m].rjust(w) for m, w in zip(METRICS, widths, strict=True))]
    for label, counts in rows:
        lines.append(label.ljust(label_width) + "  " + "  ".join(
            shown(counts[m], k).rjust(w) for m, w in zip(METRICS, widths, strict=True)))
    return lines


def _grouped(groups: dict[Group, Counter[str]],
             key: Callable[[Group], str]) -> list[tuple[str, Counter[str]]]:
    merged: dict[str, Counter[str]] = {}
    for group, counts in groups.items():
        merged.setdefault(key(group), Counter()).update(counts)
    return sorted(merged.items())


def status_report(survey: Survey, version: int, partner: str | None, state: str,
                  groups: dict[Group, Counter[str]], k: int, notes: Iterable[str] = ()) -> str:
    total: Counter[str] = Counter()
    for counts in groups.values():
        total.update(counts)
    lines = [f"{survey.id} — {survey.title.en} / {survey.title.fr}",
             f"version {version}, {state}" + (f", published by {partner}" if partner else ""), ""]
    lines += _table("all", [("all", total)], k)
    lines.append("")
    lines += _table("city", _grouped(groups, lambda g: g[0] or "(none)"), k)
    lines.append("")
    lines += _table("age band", _grouped(groups, lambda g: g[1] or "(none)"), k)
    lines.append("")
    lines.append(f"Groups of fewer than {k} people are shown as \"< {k}\", so no one can be singled out.")
    lines.extend(notes)
    return "\n".join(lines)

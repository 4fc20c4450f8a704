"""One chart per question (PNG), drawn with matplotlib without a display.

Hidden counts get no bar, only the "< k" label: the chart gives away nothing the tables hide.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.figure import Figure as Canvas

from digests import formatting
from digests.model import QuestionKind, QuestionSummary

BAR = "#2f6f9f"
MUTED = "#8a8f98"
DPI = 100


def question_chart(question: QuestionSummary, language: str, k: int) -> bytes:
    rows = list(question.rows)
    labels = [textwrap.shorten(row.label, 48, placeholder="…") for row in rows]
    by_share = question.kind is not QuestionKind.TEXT
    values = [(row.figure.share or 0.0) * 100 if by_share else float(row.figure.count or 0) for row in rows]
    height = 0.9 + 0.42 * max(1, len(rows))
    canvas = Canvas(figsize=(6.4, height), dpi=DPI)
    axes = canvas.add_subplot()
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, values, color=BAR, height=0.6)
    axes.set_yticks(positions, labels=labels, fontsize=9)
    top = max([*values, 1.0])
    axes.set_xlim(0, top * 1.25)
    for position, row, value in zip(positions, rows, values, strict=True):
        if row.figure.hidden:
            text, colour = f"< {k}", MUTED
        elif by_share and row.figure.share is not None:
            text, colour = formatting.share(row.figure, language), "#1d1d1f"
        else:
            text, colour = formatting.count(row.figure, language, k), "#1d1d1f"
        axes.text(value + top * 0.02, position, text, va="center", fontsize=9, color=colour)
    axes.set_xticks([])
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    canvas.tight_layout()
    output = io.BytesIO()
    # No timestamps in the file: the same digest draws the same bytes.
    canvas.savefig(output, format="png", metadata={"Software": None})
    return output.getvalue()

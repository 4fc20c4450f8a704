"""A council's digest as plain data: every count already suppressed, every label in the council's
language. Renderers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class Figure:
    """A count as published: ``count`` is None when it is hidden (small, or protecting one)."""

    count: int | None
    # Of the figure's base (who answered the question, who took part); None when not shown.
    share: float | None = None
    # Share now minus share in the previous digest, in percentage points; None when either is hidden.
    change: float | None = None

    @property
    def hidden(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    figure: Figure


class QuestionKind(StrEnum):
    CHOICE = "choice"
    MULTIPLE = "multiple"
    NUMBER = "number"
    TEXT = "text"


@dataclass(frozen=True)
class Breakdown:
    """One question's answers per group (age band or neighbourhood): groups × rows of the question."""

    dimension: str
    groups: tuple[Row, ...]
    # cells[g][r]: the count of row r in group g (share of the group's answers).
    cells: tuple[tuple[Figure, ...], ...]


@dataclass(frozen=True)
class QuestionSummary:
    campaign_id: str
    question_id: str
    title: str
    kind: QuestionKind
    answered: Figure
    rows: tuple[Row, ...]
    breakdowns: tuple[Breakdown, ...] = ()
    median: float | None = None

    @property
    def key(self) -> str:
        return f"{self.campaign_id}.{self.question_id}"


@dataclass(frozen=True)
class CampaignProgress:
    campaign_id: str
    title: str
    participants: Figure
    completed: Figure


@dataclass(frozen=True)
class Quote:
    text: str
    topic: str


@dataclass(frozen=True)
class Digest:
    council_id: str
    council_name: str
    city_name: str
    language: str
    # The period, in the city's local time: start included, end excluded.
    start: datetime
    end: datetime
    generated_at: datetime
    min_cell_size: int
    participants: Figure
    previous_participants: int | None
    answers: int
    campaigns: tuple[CampaignProgress, ...]
    participants_by: tuple[Breakdown, ...]
    questions: tuple[QuestionSummary, ...]
    quotes: tuple[Quote, ...] = ()
    # How many young people received the council's last reply, when there was one.
    reply_reached: int | None = None

    @property
    def empty(self) -> bool:
        return self.answers == 0

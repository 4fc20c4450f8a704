"""A survey campaign as the engine sees it: validated, immutable, bilingual."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

LANGUAGES: tuple[str, ...] = ("fr", "en")

# Where a go-to may lead besides another question.
END = "end"


class QuestionType(StrEnum):
    SINGLE = "single_choice"
    MULTIPLE = "multiple_choice"
    SCALE = "scale"
    YES_NO = "yes_no"
    NUMBER = "number"
    TEXT = "text"


CHOICE_TYPES = frozenset({QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.SCALE,
                          QuestionType.YES_NO})


@dataclass(frozen=True)
class Text:
    """One text in every supported language."""

    fr: str
    en: str

    def in_(self, language: str) -> str:
        return self.en if language == "en" else self.fr


@dataclass(frozen=True)
class Option:
    id: str
    label: Text
    synonyms: tuple[str, ...] = ()
    # A go-to: the question this option leads to, or END.
    next: str | None = None


@dataclass(frozen=True)
class Condition:
    """Show a question only when an earlier answer matches."""

    question: str
    any_of: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: Text
    required: bool = False
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = True
    # For scales: what 1 and 5 mean.
    low_label: Text | None = None
    high_label: Text | None = None
    show_if: Condition | None = None
    next: str | None = None
    max_length: int = 1000
    # Why a required question cannot be skipped, said to whoever tries.
    why: Text | None = None

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Audience:
    """Who a campaign is for; an empty tuple means no restriction on that attribute."""

    cities: tuple[str, ...] = ()
    neighbourhoods: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def includes(self, city: str | None, neighbourhood: str | None, age_band: str | None,
                 language: str | None) -> bool:
        return all(not wanted or value in wanted for wanted, value in (
            (self.cities, city), (self.neighbourhoods, neighbourhood),
            (self.age_bands, age_band), (self.languages, language)))


@dataclass(frozen=True)
class Schedule:
    """When a campaign runs, in each city's local time (naive), and when to remind once."""

    opens: datetime | None = None
    closes: datetime | None = None
    reminder_after: timedelta | None = None


@dataclass(frozen=True)
class Survey:
    id: str
    version: int
    title: Text
    intro: Text
    closing: Text
    questions: tuple[Question, ...]
    source_hash: str = ""
    audience: Audience = field(default=Audience())
    schedule: Schedule = field(default=Schedule())

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def index(self, question_id: str) -> int:
        for i, q in enumerate(self.questions):
            if q.id == question_id:
                return i
        raise KeyError(question_id)

"""What every part of a turn shares: the context, the buffers it fills and the re-ask rules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.engine import texts
from bot.engine.campaigns import ALWAYS, Window
from bot.engine.community import Community
from bot.engine.matching import ChoiceReading, read_choice
from bot.engine.messages import AnswerRecord, Choice, Event, EventType, Inbound, Outbound
from bot.engine.safeguarding import Lexicon
from bot.engine.state import ConversationState, Phase
from bot.engine.survey import LANGUAGES, Option, Question, Survey, Text
from bot.engine.texts import Catalog

MAX_INVALID = 3
WELCOME_BACK_AFTER = timedelta(hours=12)


@dataclass(frozen=True)
class Context:
    community: Community
    # The current version of each campaign offered, in the order they are offered.
    campaigns: tuple[Survey, ...]
    catalog: Catalog
    # Every stored version, so that a participant finishes the version they started.
    versions: Mapping[tuple[str, int], Survey] = field(default_factory=dict)
    windows: Mapping[str, Window] = field(default_factory=dict)

    def window(self, campaign_id: str) -> Window:
        return self.windows.get(campaign_id, ALWAYS)
    # Disclosure detection; None only where no free text is read (some tools and tests).
    lexicon: Lexicon | None = None


class TurnBase(ABC):
    """One turn in progress. Onboarding, the questionnaire and the commands each add their part."""

    def __init__(self, context: Context, state: ConversationState, inbound: Inbound) -> None:
        self.ctx = context
        self.state = state
        self.inbound = inbound
        self.outbound: list[Outbound] = []
        self.answers: list[AnswerRecord] = []
        self.events: list[Event] = []
        self.acknowledgement: str | None = None
        self.returning = False

    @property
    def lang(self) -> str:
        return self.state.language or self.ctx.community.default_language

    def tr(self, message: str, **values: Any) -> str:
        text = self.ctx.catalog.gettext(self.lang, message)
        return text.format(**values) if values else text

    def both(self, message: str) -> Text:
        return Text(self.ctx.catalog.gettext("fr", message), self.ctx.catalog.gettext("en", message))

    def say(self, text: str, choices: Sequence[Choice] = (), replace: bool = False,
            expects_text: bool = False) -> None:
        self.outbound.append(Outbound(text, tuple(choices), replace, expects_text))

    def emit(self, event_type: EventType, **data: Any) -> None:
        self.events.append(Event(event_type, data))

    def update(self, **changes: Any) -> None:
        self.state = self.state.evolve(**changes)

    def apply_language(self, language: str | None) -> bool:
        if language not in LANGUAGES or language == self.state.language:
            return False
        self.emit(EventType.LANGUAGE_CHANGED, previous=self.state.language, language=language)
        self.update(language=language)
        return True

    def or_list(self, labels: Sequence[str]) -> str:
        """'A', 'A or B', 'A, B or C' in the conversation's language."""
        if len(labels) < 2:
            return "".join(labels)
        return self.tr(texts.OR_LIST, first=", ".join(labels[:-1]), last=labels[-1])

    def council(self) -> str:
        """The council that hears this participant, as their city calls it."""
        city = self.ctx.community.city(self.state.city)
        return city.council.in_(self.lang) if city else self.tr(texts.NO_COUNCIL)

    def campaign_text(self, text: Text) -> str:
        """A campaign's own text, with {council} naming the participant's council."""
        return text.in_(self.lang).replace("{council}", self.council())

    def quoted(self, label: str) -> str:
        return self.tr(texts.QUOTED, label=label)

    def privacy_notice(self) -> str:
        return self.tr(texts.PRIVACY, contact=self.ctx.community.privacy_contact)

    def reading(self, text: str, options: Sequence[Option]) -> ChoiceReading:
        """What a typed answer says of the options: labels and synonyms first, then what the NLU
        recognised in it."""
        reading = read_choice(text, options)
        understanding = self.inbound.understanding
        if reading.chosen or reading.negated or understanding is None or not understanding.entities:
            return reading
        return read_choice(" ".join(e.value for e in understanding.entities), options)

    def reject(self, reason: str, message: str) -> None:
        self.emit(EventType.INPUT_REJECTED, reason=reason)
        self.say(message)
        self.repeat()

    def invalid(self, message: str) -> None:
        """A clear re-ask, a bounded number of times; then move on or point to help."""
        if self.returning:
            self.say(self.tr(texts.WELCOME_BACK))
            self.repeat()
            return
        count = self.state.invalid_count + 1
        self.emit(EventType.INPUT_REJECTED, reason="invalid_answer", attempt=count)
        question = self.current_question()
        if count < MAX_INVALID:
            self.update(invalid_count=count)
            self.say(message)
            self.repeat()
            return
        if question is not None and not question.required:
            self.say(self.tr("Let's leave that one for now."))
            self.emit(EventType.QUESTION_SKIPPED, question=question.id, reason="invalid_answers")
            self.record(question, {"skipped": True}, skipped=True)
            self.advance(question, None)
            return
        self.update(invalid_count=0)
        self.say(message + "\n" + self.tr("If you're stuck, send /help."))
        self.repeat()


    # -- what the parts provide to each other ------------------------------------------------

    @abstractmethod
    def repeat(self) -> None:
        """Show again what the participant is expected to answer."""

    @abstractmethod
    def enter(self, phase: Phase) -> None:
        """Move to an onboarding step and ask it."""

    @abstractmethod
    def begin(self, survey: Survey) -> None:
        """Start this campaign at its first question."""

    @abstractmethod
    def open_campaigns(self) -> list[Survey]:
        """The campaigns to offer this participant now, the one they asked for first."""

    @abstractmethod
    def profile_menu(self) -> None:
        """Show the profile and what can be changed."""

    @abstractmethod
    def ask_onboarding(self, first_time: bool = False) -> None:
        """Ask the onboarding step the participant is on (or is changing from /profile)."""

    @abstractmethod
    def next_campaign(self) -> None:
        """Start the next campaign open to the participant, or say there is none."""

    @abstractmethod
    def current_question(self) -> Question | None:
        """The campaign question the participant is on, if any."""

    @abstractmethod
    def control(self, value: str) -> None:
        """Skip or go back on the current question."""

    @abstractmethod
    def record(self, question: Question, summary: dict[str, Any], **fields: Any) -> None:
        """Keep an answer (or a skip) to a campaign question."""

    @abstractmethod
    def carry_on(self, yes: bool) -> None:
        """After a disclosure: back to the questions, or leave them for later."""

    @abstractmethod
    def advance(self, question: Question, goto: str | None) -> None:
        """Ask the question that follows, or complete the campaign."""

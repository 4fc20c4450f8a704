"""What goes into a turn and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.engine.state import ConversationState
from bot.engine.understanding import Understanding


class InboundKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"
    COMMAND = "command"
    # Anything the bot cannot read: sticker, photo, voice note, location, contact...
    UNSUPPORTED = "unsupported"
    # A participant edited a message they had sent: the answer it gave stands.
    EDITED = "edited"


@dataclass(frozen=True)
class Inbound:
    """One message from a participant, with what the outside world already decided about it."""

    kind: InboundKind
    now: datetime
    text: str = ""
    data: str = ""
    command: str = ""
    # The language the service's policy chose for this message; None keeps the conversation's.
    language: str | None = None
    # The language evidence to keep after this message (None: unchanged), and whether the
    # policy found the person's messages mixed enough to offer them the choice.
    language_evidence: tuple[float, float] | None = None
    offer_language: bool = False
    understanding: Understanding | None = None
    # False when the NLU service could not be asked: free text is then kept for later reading.
    understood: bool = True
    # This chat was turned away for its age a short while ago (the service's cool-down).
    turned_away: bool = False

    @classmethod
    def text_message(cls, text: str, now: datetime, **kwargs: Any) -> Inbound:
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            name = stripped[1:].split()[0].split("@")[0].lower()
            return cls(InboundKind.COMMAND, now, text=stripped, command=name, **kwargs)
        return cls(InboundKind.TEXT, now, text=text, **kwargs)

    @classmethod
    def button(cls, data: str, now: datetime, **kwargs: Any) -> Inbound:
        return cls(InboundKind.BUTTON, now, data=data, **kwargs)


@dataclass(frozen=True)
class Choice:
    label: str
    data: str


@dataclass(frozen=True)
class Outbound:
    """A message ready to send: translated text and, maybe, buttons (a channel lays them out)."""

    text: str
    choices: tuple[Choice, ...] = ()
    # Replace the message whose button was pressed instead of sending a new one (toggles).
    replace: bool = False
    # The question wants typed input (a number, free text); buttons are only controls.
    expects_text: bool = False


@dataclass(frozen=True)
class AnswerRecord:
    campaign_id: str
    campaign_version: int
    question_id: str
    language: str
    answered_at: datetime
    option_ids: tuple[str, ...] | None = None
    number: float | None = None
    text: str | None = None
    skipped: bool = False
    topic: str | None = None
    topic_confidence: float | None = None
    understanding_pending: bool = False
    # Places and transport lines named in a typed answer: (entity, value), e.g. ("transport_line", "C3").
    mentions: tuple[tuple[str, str], ...] = ()
    # The person's own words on a choice question, before they tick options: stored as the
    # answer's text, with the options once they choose them.
    comment: bool = False


class EventType(StrEnum):
    LANGUAGE_CHANGED = "language_changed"
    LANGUAGE_OFFERED = "language_offered"
    CONSENT_GIVEN = "consent_given"
    CONSENT_REFUSED = "consent_refused"
    NOT_ELIGIBLE = "not_eligible"
    PROFILE_UPDATED = "profile_updated"
    ONBOARDING_COMPLETED = "onboarding_completed"
    SURVEY_STARTED = "survey_started"
    QUESTION_ASKED = "question_asked"
    ANSWER_RECORDED = "answer_recorded"
    COMMENT_KEPT = "comment_kept"
    QUESTION_SKIPPED = "question_skipped"
    WENT_BACK = "went_back"
    INPUT_REJECTED = "input_rejected"
    SURVEY_COMPLETED = "survey_completed"
    INVITATION_ACCEPTED = "invitation_accepted"
    INVITATION_DECLINED = "invitation_declined"
    # A late answer to a campaign that has closed: nothing was stored.
    SURVEY_CLOSED = "survey_closed"
    PARTICIPANT_STOPPED = "participant_stopped"
    PARTICIPANT_RESUMED = "participant_resumed"
    ERASURE_CONFIRMED = "erasure_confirmed"
    DATA_REQUESTED = "data_requested"
    DISCLOSURE_DETECTED = "disclosure_detected"


@dataclass(frozen=True)
class Event:
    type: EventType
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    state: ConversationState
    outbound: tuple[Outbound, ...]
    answers: tuple[AnswerRecord, ...] = ()
    events: tuple[Event, ...] = ()
    # What the pressed button chose, for the channel to show on the pressed message.
    acknowledgement: str | None = None

    def has(self, event_type: EventType) -> bool:
        return any(e.type is event_type for e in self.events)

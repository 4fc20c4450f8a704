"""Plain values going into and coming out of the repositories."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AnswerIn:
    """One answer as the engine produced it; saving it again replaces the earlier one."""

    participant_id: str
    campaign_id: str
    campaign_version: int
    question_id: str
    option_ids: Sequence[str] | None
    number: float | None
    text: str | None
    skipped: bool
    language: str
    answered_at: datetime
    scrubbed_text: str | None = None
    topic: str | None = None
    topic_confidence: float | None = None
    understanding_pending: bool = False
    mentions: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, slots=True)
class StoredState:
    """A conversation state and the version to quote when saving it back."""

    data: dict[str, Any]
    version: int


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """How many rows of each kind an erasure removed."""

    participants: int
    channel_identities: int
    consent_records: int
    conversation_states: int
    answers: int
    handled_messages: int
    pending_replies: int
    survey_completions: int = 0
    safeguarding_alerts: int = 0

    @property
    def total(self) -> int:
        return (
            self.participants
            + self.channel_identities
            + self.consent_records
            + self.conversation_states
            + self.answers
            + self.handled_messages
            + self.pending_replies
            + self.survey_completions
            + self.safeguarding_alerts
        )


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    kind: str
    granted: bool
    age_band: str | None
    notice_version: int
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ParticipantData:
    """What is kept about one participant, as shown to them by /mydata.

    Channel external ids (chat ids) are deliberately absent: only channel names.
    """

    participant_id: str
    created_at: datetime
    language: str | None
    age_band: str | None
    city: str | None
    neighbourhood: str | None
    stopped_at: datetime | None
    channels: tuple[str, ...]
    consents: tuple[ConsentEntry, ...]
    answers_per_campaign: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class QueuedReply:
    """A reply waiting to be delivered, as claimed by one worker."""

    id: int
    channel: str
    address: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    # The conversation state version it was made for (None: the conversation was erased).
    state_version: int | None = None

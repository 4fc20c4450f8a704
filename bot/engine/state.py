"""A conversation's state: plain data that serialises to JSON so any worker can continue it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

STATE_VERSION = 1


class Phase(StrEnum):
    NEW = "new"
    LANGUAGE = "language"
    CONSENT = "consent"
    AGE = "age"
    PARENTAL = "parental"
    CITY = "city"
    NEIGHBOURHOOD = "neighbourhood"
    # Picked a city we do not work with: told no council will hear them, asked whether to go on.
    ELSEWHERE = "elsewhere"
    SURVEY = "survey"
    IDLE = "idle"


class Pending(StrEnum):
    """A question about the conversation itself, asked on top of where the participant is."""

    LANGUAGE = "language"
    DELETE = "delete"
    STOP = "stop"
    # After a disclosure: carry on with the questions only if the participant wants to.
    SUPPORT = "support"


@dataclass(frozen=True)
class ConversationState:
    language: str | None = None
    # Chosen with /language: from then on, the language a message is written in does not switch it.
    language_locked: bool = False
    # Decaying weights of the French and the English read in this person's messages so far.
    language_evidence: tuple[float, float] = (0.0, 0.0)
    # The person was offered the choice of language because their messages pulled both ways.
    language_offered: bool = False
    phase: Phase = Phase.NEW
    age_band: str | None = None
    city: str | None = None
    neighbourhood: str | None = None
    # Lives in a city we do not work with and chose to answer anyway.
    elsewhere_ok: bool = False
    campaign: str | None = None
    campaign_version: int | None = None
    question: str | None = None
    # Questions answered or skipped in this campaign, in order: where /back goes.
    history: tuple[str, ...] = ()
    # This campaign's answers, for branching and for showing the previous answer on /back.
    answers: dict[str, Any] = field(default_factory=dict)
    # Options toggled so far on a multiple-choice question.
    selection: tuple[str, ...] = ()
    # The person's own words on a choice question, kept with the options they then tick.
    comment: dict[str, Any] | None = None
    invalid_count: int = 0
    pending: Pending | None = None
    # A profile change in progress (/profile): "menu", or the onboarding step asked again.
    profile_edit: str | None = None
    completed: tuple[str, ...] = ()
    # Campaigns the participant chose to start from an invitation while busy with another.
    invited: tuple[str, ...] = ()
    # Campaigns put off with "Not now": not started on their behalf, only when they ask.
    declined: tuple[str, ...] = ()
    stopped: bool = False
    # Asked the city before consent, because the consent age depends on the country.
    city_before_consent: bool = False
    # The age of digital consent that applied when a parent's agreement was asked.
    consent_age: int | None = None
    last_seen: str | None = None

    def evolve(self, **changes: Any) -> ConversationState:
        return replace(self, **changes)

    def seen_at(self) -> datetime | None:
        return datetime.fromisoformat(self.last_seen) if self.last_seen else None

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies, a tenth of a turn's CPU for nothing.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["answers"] = dict(self.answers)
        data["history"] = list(self.history)
        data["selection"] = list(self.selection)
        data["completed"] = list(self.completed)
        data["invited"] = list(self.invited)
        data["declined"] = list(self.declined)
        data["language_evidence"] = list(self.language_evidence)
        data["phase"] = self.phase.value
        data["pending"] = self.pending.value if self.pending else None
        data["v"] = STATE_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"conversation state version {data.get('v')!r} is not {STATE_VERSION}")
        fields = {k: v for k, v in data.items() if k != "v"}
        fields["phase"] = Phase(fields["phase"])
        fields["pending"] = Pending(fields["pending"]) if fields.get("pending") else None
        for name in ("history", "selection", "completed", "invited", "declined"):
            fields[name] = tuple(fields.get(name) or ())
        # States saved before evidence was kept have none.
        french, english = fields.get("language_evidence") or (0.0, 0.0)
        fields["language_evidence"] = (float(french), float(english))
        return cls(**fields)

"""What the NLU service understood of a free-text message, as plain values the engine can reason on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntentGuess:
    name: str
    confidence: float


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Understanding:
    """The NLU's reading of one message: the best intent (None below the fallback threshold)."""

    text: str
    intent: IntentGuess | None
    ranking: tuple[IntentGuess, ...] = ()
    entities: tuple[Entity, ...] = ()

    def is_intent(self, name: str, min_confidence: float) -> bool:
        return (
            self.intent is not None
            and self.intent.name == name
            and self.intent.confidence >= min_confidence
        )

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


# Intents that say what an open answer is about: topic_transport, topic_safety...
TOPIC_PREFIX = "topic_"


# Entities kept with an open answer: the places and lines a council can act on.
KEPT_ENTITIES = ("neighbourhood", "transport_line")


def mentions_of(understanding: Understanding | None) -> tuple[tuple[str, str], ...]:
    """(entity, value) pairs the NLU found in an answer, in order, each once: ("transport_line", "C3")."""
    if understanding is None:
        return ()
    found = [(e.entity, e.value) for e in sorted(understanding.entities, key=lambda e: e.start)
             if e.entity in KEPT_ENTITIES]
    return tuple(dict.fromkeys(found))


def topic_of(understanding: Understanding | None) -> tuple[str | None, float | None]:
    """The topic of an open answer and the NLU's confidence in it; (None, None) for anything else."""
    intent = understanding.intent if understanding else None
    if intent is None or not intent.name.startswith(TOPIC_PREFIX):
        return None, None
    return intent.name.removeprefix(TOPIC_PREFIX), intent.confidence


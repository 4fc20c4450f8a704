"""Button payloads: compact, self-describing, and checked when they come back.

A payload names what it answers (scope and key) so that a stale or forged button can be told apart
from a current one. Telegram allows at most 64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64
SEPARATOR = ":"

# Scopes
ANSWER = "q"  # q:<campaign>:<question>:<option or control>
ONBOARDING = "o"  # o:<step>:<value>
LANGUAGE = "l"  # l:<language>
CONFIRM = "x"  # x:<what>:<yes|no>
INVITE = "i"  # i:<campaign>:<go|later>
DATA = "d"  # d:<page of /mydata>

# Controls on a question, distinguishable from option ids by their prefix.
SKIP = "~skip"
BACK = "~back"
DONE = "~done"


@dataclass(frozen=True)
class Payload:
    scope: str
    parts: tuple[str, ...]


def encode(scope: str, *parts: str) -> str:
    return SEPARATOR.join((scope, *parts))


def answer(campaign_id: str, question_id: str, value: str) -> str:
    return encode(ANSWER, campaign_id, question_id, value)


def decode(data: str) -> Payload | None:
    """Split a payload; None when it is not one of ours (garbage, too long, wrong arity)."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    scope, *parts = data.split(SEPARATOR)
    arity = {ANSWER: 3, ONBOARDING: 2, LANGUAGE: 1, CONFIRM: 2, INVITE: 2, DATA: 1}.get(scope)
    if arity is None or len(parts) != arity or not all(parts):
        return None
    return Payload(scope, tuple(parts))


def fits(data: str) -> bool:
    return len(data.encode("utf-8")) <= MAX_BYTES

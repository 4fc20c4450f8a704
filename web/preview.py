"""A campaign tried in the browser: the bot's own engine, with a made-up participant, storing nothing.

The conversation travels in the page itself (a signed form field), so any console process can take
the next turn and nothing is written to the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from bot.engine.conversation import Context, step
from bot.engine.messages import Inbound
from bot.engine.state import ConversationState, Phase
from bot.engine.survey import Survey

# A preview never grows without end: a long session keeps its latest messages.
MAX_MESSAGES = 80


@dataclass(frozen=True)
class Bubble:
    mine: bool
    text: str
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Preview:
    language: str
    state: ConversationState
    bubbles: tuple[Bubble, ...]
    finished: bool


class PreviewError(Exception):
    """The preview form was tampered with or comes from another deployment."""


def serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="youthvoice.preview")


def _context(base: Context, survey: Survey) -> Context:
    return Context(community=base.community, campaigns=(survey,), catalog=base.catalog)


def start(base: Context, survey: Survey, language: str, city: str, now: datetime) -> Preview:
    """The campaign's first messages, for a participant of ``city`` who finished onboarding."""
    band = base.community.age_bands[-1].id
    state = ConversationState(language=language, language_locked=True, phase=Phase.IDLE, age_band=band,
                              city=city, last_seen=now.isoformat())
    result = step(_context(base, survey), state, Inbound.text_message("/start", now, language=language))
    bubbles = _bubbles(result.outbound)
    # The made-up participant has been here before; their "welcome back" is not the campaign's.
    title = survey.title.in_(language)
    first = next((i for i, bubble in enumerate(bubbles) if bubble.text.startswith(title)), 0)
    return Preview(language, result.state, tuple(bubbles[first:]), result.state.phase is not Phase.SURVEY)


def reply(base: Context, survey: Survey, preview: Preview, *, text: str | None, pressed: str | None,
          now: datetime) -> Preview:
    if pressed:
        inbound = Inbound.button(pressed, now, language=preview.language)
        said = next((label for bubble in reversed(preview.bubbles) for label, data in bubble.choices
                     if data == pressed), pressed)
    else:
        inbound = Inbound.text_message(text or "", now, language=preview.language)
        said = text or ""
    result = step(_context(base, survey), preview.state, inbound)
    bubbles = list(preview.bubbles)
    toggled = bool(result.outbound) and all(message.replace for message in result.outbound)
    if not toggled:
        bubbles.append(Bubble(True, result.acknowledgement or said))
    for message in result.outbound:
        bubble = Bubble(False, message.text, tuple((c.label, c.data) for c in message.choices))
        if message.replace and bubbles and not bubbles[-1].mine:
            # A multiple-choice toggle updates the question's buttons, as Telegram edits the message.
            bubbles[-1] = bubble
        else:
            bubbles.append(bubble)
    return Preview(preview.language, result.state, tuple(bubbles[-MAX_MESSAGES:]),
                   result.state.phase is not Phase.SURVEY)


def _bubbles(outbound: Any) -> list[Bubble]:
    return [Bubble(False, message.text, tuple((c.label, c.data) for c in message.choices))
            for message in outbound]


def dump(secret_key: str, preview: Preview) -> str:
    return serializer(secret_key).dumps({
        "language": preview.language, "state": preview.state.to_json(), "finished": preview.finished,
        "bubbles": [[b.mine, b.text, [list(c) for c in b.choices]] for b in preview.bubbles]})


def load(secret_key: str, signed: str) -> Preview:
    try:
        data = serializer(secret_key).loads(signed)
        return Preview(data["language"], ConversationState.from_json(data["state"]),
                       tuple(Bubble(mine, text, tuple((label, value) for label, value in choices))
                             for mine, text, choices in data["bubbles"]), bool(data["finished"]))
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PreviewError("this preview cannot be continued; start it again") from exc

"""Golden conversation transcripts: scripted turns in, expected replies, answers and events out.

A transcript file holds the participant's turns and, under each, what the bot must do. Running with
`--update-golden` rewrites the expectations from what the bot does now; review the diff before
committing it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.app import App, build_app
from bot.channels.collecting import CollectingChannel
from bot.engine.messages import AnswerRecord, Event
from bot.engine.understanding import Entity, IntentGuess, Understanding
from bot.service import Turn

START = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
TURN_GAP = timedelta(seconds=30)
USER = "golden-user"
INPUT_KEYS = ("say", "nlu", "press", "data", "sticker", "restart", "wait", "interface")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


def parse_wait(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text)
    if match is None:
        raise ValueError(f"wait {text!r}: expected a number and one of s, m, h, d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


@dataclass
class Runner:
    config: Path
    database_url: str
    clock: Clock
    app: App
    channel: CollectingChannel
    interface: str | None

    @classmethod
    def start(cls, config: Path, database_url: str, interface: str | None) -> Runner:
        clock = Clock()
        app = build_app(config, database_url, clock=clock, new_id=_ids())
        return cls(config, database_url, clock, app, CollectingChannel(app.service), interface)

    def restart(self) -> None:
        """A new process on the same database: nothing survives but what was stored."""
        self.app.close()
        self.app = build_app(self.config, self.database_url, clock=self.clock, new_id=_ids())
        previous = self.channel
        self.channel = CollectingChannel(self.app.service)
        self.channel.sent = previous.sent

    def play(self, turn: dict[str, Any]) -> dict[str, Any] | None:
        self.clock.advance(TURN_GAP)
        if "interface" in turn:
            self.interface = turn["interface"]
        if "wait" in turn:
            self.clock.advance(parse_wait(turn["wait"]))
        if turn.get("restart"):
            self.restart()
        result: Turn
        if "say" in turn:
            result = self.channel.say(USER, str(turn["say"]), self.interface,
                                      understood(str(turn["say"]), turn.get("nlu")))
        elif "press" in turn:
            result = self.channel.press(USER, str(turn["press"]), self.interface)
        elif "data" in turn:
            result = self.channel.press_data(USER, str(turn["data"]), self.interface)
        elif turn.get("sticker"):
            result = self.channel.unsupported(USER, self.interface)
        else:
            return None
        return expectation(result)


def understood(text: str, nlu: dict[str, Any] | None) -> Understanding | None:
    """What the NLU said of a message, as the transcript states it (no `nlu`: it was down)."""
    if nlu is None:
        return None
    intent = IntentGuess(nlu["intent"], float(nlu["confidence"])) if "intent" in nlu else None
    entities = tuple(Entity(e["entity"], e["value"], 0, 0) for e in nlu.get("entities", []))
    return Understanding(text, intent, (intent,) if intent else (), entities)


def expectation(turn: Turn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if turn.acknowledgement:
        out["ack"] = turn.acknowledgement
    out["bot"] = [
        {"text": m.text, "buttons": [c.label for c in m.choices], **({"replace": True} if m.replace else {})}
        if m.choices
        else m.text
        for m in turn.outbound
    ]
    if turn.answers:
        out["answers"] = [_answer(a) for a in turn.answers]
    out["events"] = [_event(e) for e in turn.events]
    return out


def _answer(answer: AnswerRecord) -> dict[str, Any]:
    value: dict[str, Any] = {"question": answer.question_id}
    if answer.skipped:
        value["skipped"] = True
    if answer.option_ids is not None:
        value["options"] = list(answer.option_ids)
    if answer.number is not None:
        value["number"] = answer.number
    if answer.text is not None:
        value["text"] = answer.text
    if answer.topic is not None:
        value["topic"] = f"{answer.topic} ({answer.topic_confidence:.2f})"
    if answer.understanding_pending:
        value["pending_understanding"] = True
    if answer.mentions:
        value["mentions"] = [f"{entity}={text}" for entity, text in answer.mentions]
    value["language"] = answer.language
    return value


def _event(event: Event) -> str:
    details = ",".join(f"{k}={v}" for k, v in sorted(event.data.items()))
    return f"{event.type.value}({details})" if details else event.type.value


def run_transcript(path: Path, config: Path, database_url: str, update: bool) -> list[str]:
    """Play a transcript; return the differences (empty when it matches), or rewrite it."""
    source = path.read_text(encoding="utf-8")
    script = yaml.safe_load(source)
    runner = Runner.start(config, database_url, script.get("interface_language"))
    differences: list[str] = []
    try:
        for index, turn in enumerate(script["turns"]):
            inputs = {k: turn[k] for k in INPUT_KEYS if k in turn}
            got = runner.play(inputs)
            if got is None:
                continue
            if update:
                turn.clear()
                turn.update(inputs)
                turn.update(got)
                continue
            expected = {k: v for k, v in turn.items() if k not in INPUT_KEYS}
            if expected != got:
                differences.append(f"turn {index + 1} ({inputs}):\n  expected: {expected}\n  got:      {got}")
    finally:
        runner.app.close()
    if update:
        header = "".join(line + "\n" for line in source.splitlines() if line.startswith("#"))
        path.write_text(
            header + yaml.safe_dump(script, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
        )
    return differences

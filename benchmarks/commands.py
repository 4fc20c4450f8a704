"""How often a typed message acts as a command, through the real NLU server and the engine's rule.

Run from the repository root:

    .venv/bin/python -m benchmarks.commands             # starts a server (cached model)
    .venv/bin/python -m benchmarks.commands --url http://127.0.0.1:5005 --errors

Messages: the held-out set (nlu/tests, never trained on) and what people typed in
benchmarks/data/chat_conversations.tsv. Those labelled with a command intent (stop, help, skip...)
should act; every other one (greetings, yes, no, thanks, answers about the city, the chat set)
should not. Each is judged by bot.engine.commands.command_in_text twice: outside a question, and
on an open question (where a long message is an answer). Prints how many of the other messages
triggered a command (target: at most 1 in 200), how many command messages acted, and stop and
delete on their own.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.language import CHAT_CONVERSATIONS
from bot.engine.commands import DESTRUCTIVE_COMMANDS, INTENT_COMMANDS, command_in_text
from bot.engine.understanding import Understanding
from nlu.cli import server_url
from nlu.client import SyncNluClient
from nlu.evaluation import load_examples

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Message:
    text: str
    command: str | None
    """The command the message asks for, None for any other message."""


def messages() -> list[Message]:
    found = [Message(e.text, INTENT_COMMANDS.get(e.intent)) for e in load_examples(ROOT / "nlu" / "tests")]
    with CHAT_CONVERSATIONS.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        found.extend(Message(row["message"], None) for row in rows)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running Rasa server (default: $RASA_URL, else start one)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--errors", action="store_true", help="list the messages judged wrongly")
    args = parser.parse_args(argv)
    args.root = ROOT
    pool = messages()
    with server_url(args) as url, SyncNluClient(url, timeout=args.timeout, cooldown=0.0) as client:
        parsed: list[tuple[Message, Understanding | None]] = [(m, client.parse(m.text)) for m in pool]
    if any(understanding is None for _, understanding in parsed):
        print("the NLU server did not answer every message", file=sys.stderr)
        return 2
    others = [(m, u) for m, u in parsed if m.command is None]
    commands = [(m, u) for m, u in parsed if m.command is not None]
    print(f"{len(others)} other messages, {len(commands)} asking for a command")
    print(f"  {'':<22}{'others acting':>16}{'rate':>12}{'commands acted':>16}"
          f"{'stop/delete acted':>19}")
    failures = 0
    for name, open_question in (("outside a question", False), ("on an open question", True)):
        false = [(m, u, command_in_text(m.text, u, open_question=open_question)) for m, u in others]
        triggered = [(m, u, c) for m, u, c in false if c is not None]
        acted = [m for m, u in commands if command_in_text(m.text, u, open_question=open_question)
                 == m.command]
        destructive = [m for m, _ in commands if m.command in DESTRUCTIVE_COMMANDS]
        destructive_acted = [m for m in acted if m.command in DESTRUCTIVE_COMMANDS]
        rate = f"1 in {len(others) // len(triggered)}" if triggered else "none"
        print(f"  {name:<22}{len(triggered):>9} / {len(others):<4}{rate:>12}"
              f"{_percent(len(acted), len(commands)):>16}"
              f"{_percent(len(destructive_acted), len(destructive)):>19}")
        failures += len(triggered) * 200 > len(others)
        if args.errors:
            for message, understanding, command in triggered:
                print(f"    acted: {message.text!r} -> {command} ({_read(understanding)})")
            for message, understanding in commands:
                if command_in_text(message.text, understanding, open_question=open_question) \
                        != message.command:
                    print(f"    missed: {message.text!r} ({message.command}; "
                          f"NLU: {_read(understanding)})")
    return 1 if failures else 0


def _read(understanding: Understanding | None) -> str:
    intent = understanding.intent if understanding else None
    return f"{intent.name} {intent.confidence:.2f}" if intent else "fallback"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


if __name__ == "__main__":
    sys.exit(main())

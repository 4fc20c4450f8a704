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

Protection: the disclosures of benchmarks/data/safeguarding (both parts) and their benign
look-alikes, read the way the engine reads a free text: the safeguarding detector first, then
the command rule. Prints how many would be answered with stop or delete (target: no disclosure),
and how many the command rule alone would have sent there.
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
from bot.engine.safeguarding import Lexicon
from bot.engine.understanding import Understanding
from bot.lexicon import load_lexicon
from nlu.cli import server_url
from nlu.client import SyncNluClient
from nlu.evaluation import load_examples

ROOT = Path(__file__).resolve().parents[1]
SAFEGUARDING = ROOT / "benchmarks" / "data" / "safeguarding"


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


def protection_set() -> dict[str, list[str]]:
    """Disclosures and benign look-alikes (texts), from every part of the safeguarding sets."""
    found: dict[str, list[str]] = {"disclosures": [], "look-alikes": []}
    for kind, prefix in (("disclosures", "disclosures_"), ("look-alikes", "benign_")):
        for path in sorted(SAFEGUARDING.glob(f"{prefix}*.tsv")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    found[kind].append(line.split("\t")[-1])
    return found


def engine_command(text: str, understanding: Understanding | None, lexicon: Lexicon,
                   *, open_question: bool) -> str | None:
    """What the engine does with a free text, as far as commands go: a disclosure is never one."""
    if lexicon.detect(text) is not None:
        return None
    return command_in_text(text, understanding, open_question=open_question)


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
    lexicon = load_lexicon()
    print()
    print("Protection: stop or delete on disclosures and look-alikes (outside a question / open question)")
    with server_url(args) as url, SyncNluClient(url, timeout=args.timeout, cooldown=0.0) as client:
        for kind, texts in protection_set().items():
            understood = [(text, client.parse(text)) for text in texts]
            counts = []
            for rule in ("engine", "rule alone"):
                for open_question in (False, True):
                    sent = [
                        text for text, u in understood
                        if (engine_command(text, u, lexicon, open_question=open_question)
                            if rule == "engine"
                            else command_in_text(text, u, open_question=open_question))
                        in DESTRUCTIVE_COMMANDS
                    ]
                    counts.append(len(sent))
                    if args.errors and sent:
                        print(f"    {kind}, {rule}, open question {open_question}: {sent}")
                    if kind == "disclosures" and rule == "engine":
                        failures += len(sent)
            print(f"  {kind:<12} {len(texts):>4}: engine {counts[0]} / {counts[1]}; "
                  f"the command rule alone {counts[2]} / {counts[3]}")
    return 1 if failures else 0


def _read(understanding: Understanding | None) -> str:
    intent = understanding.intent if understanding else None
    return f"{intent.name} {intent.confidence:.2f}" if intent else "fallback"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


if __name__ == "__main__":
    sys.exit(main())

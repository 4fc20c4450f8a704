"""A terminal chat on the same engine and database: numbered buttons, typed answers, slash commands."""

from __future__ import annotations

import asyncio
import locale
import os
import sys
from typing import TextIO

from bot.engine.messages import Choice, Inbound, Outbound
from bot.engine.survey import LANGUAGES
from bot.engine.texts import N_
from bot.service import ConversationService, Turn

GREETING = N_("YouthVoice — type a button's number, or your answer. /help for commands, Ctrl-D to "
              "quit.")
GOODBYE = N_("Bye! Run the same command to pick up where you left off.")

CHANNEL = "console"


def interface_language(env: dict[str, str] | None = None) -> str | None:
    """The terminal's language (LC_ALL, LC_MESSAGES, LANG), like Telegram's interface language."""
    source = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = source.get(name, "")
        if value and value not in {"C", "POSIX", "C.UTF-8"}:
            return value.split(".")[0].replace("_", "-")
    code = locale.getlocale()[0]
    return code.replace("_", "-") if code else None


class ConsoleChat:
    def __init__(self, service: ConversationService, user: str, language: str | None,
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.service = service
        self.user = user
        self.language = language
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.choices: tuple[Choice, ...] = ()
        self.runner = asyncio.Runner()
        # On a question that wants typed input, buttons are '#n' so that '3' stays an answer.
        self.prefix = ""
        # Once the conversation has a language, the chat's own lines follow it.
        self.conversation_language: str | None = None

    def tr(self, message: str) -> str:
        """The chat's own lines: in the conversation's language once it has one, before that in
        the terminal's."""
        code = (self.conversation_language or self.language or "").split("-")[0].lower()
        language = code if code in LANGUAGES else self.service.context.community.default_language
        return self.service.catalog.gettext(language, message)

    def write(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def show(self, turn: Turn) -> None:
        if turn.language:
            self.conversation_language = turn.language
        if turn.acknowledgement:
            self.write(f"  ✓ {turn.acknowledgement}")
        for message in turn.outbound:
            self.render(message)

    def render(self, message: Outbound) -> None:
        self.write("")
        for line in message.text.splitlines():
            self.write(f"🤖 {line}")
        if message.choices:
            self.choices = message.choices
            self.prefix = "#" if message.expects_text else ""
            for number, choice in enumerate(message.choices, start=1):
                self.write(f"   [{self.prefix}{number}] {choice.label}")

    def send(self, line: str) -> Turn:
        inbound = self.inbound_for(line)
        return self.runner.run(self.service.handle_async(CHANNEL, self.user, inbound,
                                                         interface_language=self.language))

    def inbound_for(self, line: str) -> Inbound:
        """A shown button's number presses it; anything else is typed."""
        now = self.service.clock()
        stripped = line.strip()
        if self.prefix and stripped.startswith(self.prefix):
            stripped = stripped[len(self.prefix):]
        elif self.prefix:
            return Inbound.text_message(line, now)
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.choices):
            return Inbound.button(self.choices[int(stripped) - 1].data, now)
        return Inbound.text_message(line, now)

    def run(self) -> int:
        # One event loop for the whole chat: the NLU's HTTP client lives in it.
        with self.runner:
            try:
                return self.chat()
            finally:
                self.runner.run(self.service.aclose())

    def chat(self) -> int:
        self.write(self.tr(GREETING))
        self.show(self.send("/start"))
        while True:
            self.stdout.write("\n> ")
            self.stdout.flush()
            line = self.stdin.readline()
            if not line:
                self.write("\n" + self.tr(GOODBYE))
                return 0
            if not line.strip():
                continue
            self.show(self.send(line.rstrip("\n")))

"""A channel that only records what the bot says: the test double for every conversation test."""

from __future__ import annotations

from collections import defaultdict

from bot.engine.messages import Choice, Inbound, InboundKind, Outbound
from bot.engine.understanding import Understanding
from bot.service import ConversationService, Turn


class ChoiceNotShownError(LookupError):
    pass


class CollectingChannel:
    def __init__(self, service: ConversationService, name: str = "test") -> None:
        self.service = service
        self.name = name
        self.sent: dict[str, list[Outbound]] = defaultdict(list)

    def _handle(self, user: str, inbound: Inbound, interface_language: str | None) -> Turn:
        turn = self.service.handle(self.name, user, inbound, interface_language=interface_language)
        self.sent[user].extend(turn.outbound)
        return turn

    def say(self, user: str, text: str, interface_language: str | None = None,
            understanding: Understanding | None = None) -> Turn:
        """A typed message; `understanding` is what the NLU made of it (None: the NLU was down)."""
        inbound = Inbound.text_message(text, self.service.clock(), understanding=understanding,
                                       understood=understanding is not None)
        return self._handle(user, inbound, interface_language)

    def press(self, user: str, label: str, interface_language: str | None = None) -> Turn:
        return self.press_data(user, self.choice(user, label).data, interface_language)

    def press_data(self, user: str, data: str, interface_language: str | None = None) -> Turn:
        return self._handle(user, Inbound.button(data, self.service.clock()), interface_language)

    def unsupported(self, user: str, interface_language: str | None = None) -> Turn:
        inbound = Inbound(InboundKind.UNSUPPORTED, self.service.clock())
        return self._handle(user, inbound, interface_language)

    def choice(self, user: str, label: str) -> Choice:
        """The button with this label on the latest message to `user` that had buttons."""
        for message in reversed(self.sent[user]):
            if message.choices:
                for choice in message.choices:
                    if choice.label == label:
                        return choice
                shown = ", ".join(c.label for c in message.choices)
                raise ChoiceNotShownError(f"no button {label!r} on the latest buttons: {shown}")
        raise ChoiceNotShownError(f"{user} has been shown no buttons")

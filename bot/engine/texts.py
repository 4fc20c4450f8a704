"""The bot's own texts: how the engine gets them (an injected catalog) and the phrases said in
several places, marked once for the catalogs and translated where they are used."""

from __future__ import annotations

from typing import Protocol


class Catalog(Protocol):
    def gettext(self, language: str, message: str) -> str: ...


def N_(message: str) -> str:
    """Mark a text for the catalogs where it is defined; it is translated where it is used."""
    return message


STOPPED = N_("You have stopped messages from us. Send /start to take part again.")
UNREADABLE_BUTTON = N_("Sorry, I could not read that button.")
STALE_BUTTON = N_("That button belongs to an earlier message. Here is where we are:")
WELCOME_BACK = N_("Welcome back! Let's pick up where you left off.")
NOT_UNDERSTOOD = N_("Sorry, I didn't get that. Tap one of the buttons, or type your answer.")
NO_SURVEY = N_("There is no survey for you right now. We'll message you when there is a new one.")
KEEP_GOING = N_("No, keep going")
YES_STOP = N_("Yes, stop")
YES_DELETE = N_("Yes, delete everything")
BACK_BUTTON = N_("⬅ Back")
SKIP_BUTTON = N_("Skip ⏭")

WELCOME = N_("Hi! I'm YouthVoice. I ask young people what they think of their city, and I pass "
           "it on to the city council, without your name.")
HELP = N_(
    "I ask you short questions about your city. Tap a button or type your answer.\n"
    "/skip skips a question, /back changes your previous answer.\n"
    "/language switches between French and English.\n"
    "/mydata shows what we keep about you, /privacy how we protect it.\n"
    "/stop stops all messages, /delete erases everything about you.\n"
    "/start picks up where you left off."
)
PRIVACY = N_(
    "Your privacy: we keep your answers apart from your Telegram account. Your city council only "
    "sees totals and anonymous quotes, never your name or username. You can see what we keep with "
    "/mydata and erase everything with /delete at any time. Questions: {contact}"
)

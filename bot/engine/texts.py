"""The bot's own texts: how the engine gets them (an injected catalog) and the phrases said in
several places, marked once for the catalogs and translated where they are used."""

from __future__ import annotations

from typing import Protocol


class Catalog(Protocol):
    def gettext(self, language: str, message: str) -> str: ...


class Term(str):
    """A word inside a message that is translated with it ("French", "a list")."""


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
NOT_THAT = N_("OK, not {choices}. Which answer fits? Tap a button, or type it.")
COMMENT_KEPT = N_("Thanks, I've kept what you wrote. Now tick the answers that fit, then Done.")
YOU_CAN_SKIP = N_("No problem if you don't know: you can skip this question.")
REQUIRED = N_("This question can't be skipped: {why}")
DO_YOU_MEAN = N_("Do you mean: {choices}?")
# Who receives the answers of someone whose city has no council with us.
NO_COUNCIL = N_("the YouthVoice team")
ALL_SET = N_("Thanks, you're all set! Your answers will go to {council}, without your name.")
PROFILE_NOT_YET = N_("You can change your age, city or neighbourhood once you have joined.")
PROFILE_SHOWN = N_("Your profile: age {band}, city {city}, neighbourhood {place}. What do you want "
                   "to change? Answers you already gave keep what was true then.")
HOW_OLD = N_("How old are you?")
PROFILE_SET = N_("Done: {what} is {new}.")
PROFILE_CHANGED = N_("Changed: {what} is now {new} (it was {old}).")
NOW_GOES_TO = N_("Your next answers will go to {council}.")
YOUR_AGE_BAND = N_("your age band")
YOUR_CITY = N_("your city")
YOUR_NEIGHBOURHOOD = N_("your neighbourhood")
NOT_SAID = N_("not said")
FIRST_QUESTION = N_("This is the first question. To change your age, city or neighbourhood, send "
                    "/profile.")
# A button's label inside a sentence.
QUOTED = N_("“{label}”")
OR_LIST = N_("{first} or {last}")
AND_LIST = N_("{first} and {last}")
YES_OR_NO = N_("Sorry, I'm not sure I understood. Tap one of the buttons.")
AGE_UNCLEAR = N_("I didn't get your age. Type it in figures (for example 16), or tap a button.")
CONSENT_QUESTION = N_("Do you agree to take part?")
CONSENT_QUESTION_AGAIN = N_("Do you agree to take part? (/privacy shows again how we protect your "
                            "answers.)")
CONSENT_ANSWER = N_("Good question. Here is what happens to your answers:")
ELSEWHERE = N_("For now, YouthVoice passes answers on only to {cities}: no council will hear the "
               "answers from your city. You can still answer our questions if you like. Do you "
               "want to go on?")
ELSEWHERE_DECLINED = N_("OK. If you picked the wrong city or you move to one of ours, send "
                        "/profile to change it. /delete erases everything about you.")

WELCOME = N_("Hi! I'm YouthVoice. I ask young people what they think of their city, and I pass "
           "it on to the city council, without your name.")
HELP = N_(
    "I ask you short questions about your city. Tap a button or type your answer.\n"
    "/skip skips a question, /back changes your previous answer.\n"
    "/language switches between French and English.\n"
    "/profile changes your age, city or neighbourhood.\n"
    "/mydata shows what we keep about you, /privacy how we protect it.\n"
    "/stop stops all messages, /delete erases everything about you.\n"
    "/start picks up where you left off."
)
PRIVACY = N_(
    "Your privacy: we keep your answers apart from your Telegram account. Your city council only "
    "sees totals and anonymous quotes, never your name or username. You can see what we keep with "
    "/mydata and erase everything with /delete at any time. Questions: {contact}"
)

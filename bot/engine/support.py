"""When a message discloses harm: a calm reply with the helplines for where the young person
lives, an event that alerts the partner's safeguarding staff, and the survey only if they want.

Runs before anything else reads a free-text message: a disclosure is never taken as a command
("jveux disparaître" is not /delete) nor as an answer.
"""

from __future__ import annotations

from bot.engine import callbacks
from bot.engine.messages import Choice, EventType
from bot.engine.safeguarding import Category
from bot.engine.state import Pending, Phase
from bot.engine.texts import N_
from bot.engine.turn import Context, TurnBase

HEARD = {
    Category.SELF_HARM: N_("Thank you for telling me. What you are going through sounds really hard, "
                           "and you deserve support right now. You are not alone: people are "
                           "ready to listen, day and night."),
    Category.SEXUAL_ABUSE: N_("Thank you for telling me. What you describe is not your fault, and no "
                              "one has the right to do that to you. People can help you, in "
                              "confidence."),
    Category.ABUSE_AT_HOME: N_("Thank you for telling me. No one has the right to hurt you, at home or "
                               "anywhere. People can help you, in confidence."),
    Category.EXPLOITATION: N_("Thank you for telling me. No one has the right to force you or to take "
                              "advantage of you. People can help you, in confidence."),
    Category.VIOLENCE_FROM_OTHERS: N_("Thank you for telling me. No one has the right to threaten or "
                                      "hurt you. People can help you, in confidence."),
    Category.ACUTE_DISTRESS: N_("Thank you for telling me. It sounds really hard right now, and you "
                                "don't have to face it alone. People are ready to listen."),
}
PASSED_ON = N_("I am a bot, but I have passed your message on to a trained person at {partner}, "
               "who may reply to you here. Your name and account are not shared with them.")
NO_PARTNER = N_("I am a bot, but I have passed your message on to a trained person, who may reply "
                "to you here. Your name and account are not shared with them.")
IN_DANGER = N_("If you are in danger right now, call the emergency number {emergency}.")
CARRY_ON = N_("Whenever you like, and only if you want, we can carry on with the questions.")
CARRY_ON_YES = N_("Carry on with the questions")
CARRY_ON_NO = N_("Not now")


def support_text(ctx: Context, language: str, category: Category, city_id: str | None) -> str:
    """The reply to a disclosure: heard, the helplines of the city (every country's before the
    city is known), that a trained person has the message, the emergency number."""
    def tr(message: str, **values: object) -> str:
        return ctx.catalog.gettext(language, message).format(**values)

    community = ctx.community
    city = community.city(city_id)
    lines = [tr(HEARD[category]), ""]
    for helpline in community.helplines_for(city_id, language):
        # Before the city is known every country's helplines are listed: each marked with its flag.
        where = "" if city else " ".join(flag(c) for c in community.helpline_countries(helpline)) + " "
        lines.append(f"{where}☎ {helpline.name}: {helpline.number} ({helpline.hours.in_(language)})")
    partner = community.partner_for(city.id if city else None)
    lines.append("")
    lines.append(tr(PASSED_ON, partner=partner) if partner else tr(NO_PARTNER))
    if city is not None:
        emergency = community.emergency_number(city)
    else:
        numbers: dict[str, list[str]] = {}
        for country in community.countries:
            numbers.setdefault(country.emergency, []).append(flag(country.code))
        emergency = ", ".join(f"{n} {' '.join(flags)}" for n, flags in numbers.items()) or "112"
    lines.append(tr(IN_DANGER, emergency=emergency))
    return "\n".join(lines)


def first_aid(ctx: Context, text: str, language: str) -> str | None:
    """The reply to a disclosure when the conversation cannot be read (the database is down): the
    helplines at once; the alert follows when the message is handled."""
    found = ctx.lexicon.detect(text) if ctx.lexicon is not None else None
    return support_text(ctx, language, found.category, None) if found is not None else None


def flag(country: str) -> str:
    """The flag emoji of a country code (regional indicator letters): read alike in any language."""
    letters = [letter for letter in country.upper() if "A" <= letter <= "Z"]
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in letters)


class Support(TurnBase):
    def disclosure(self, text: str) -> bool:
        """Reply to a message that discloses harm; False when it discloses nothing."""
        lexicon = self.ctx.lexicon
        found = lexicon.detect(text) if lexicon is not None else None
        if found is None:
            return False
        question = self.current_question()
        self.emit(EventType.DISCLOSURE_DETECTED, category=found.category.value,
                  categories=[c.value for c in found.categories], text=text, city=self.state.city,
                  language=self.lang, question=question.id if question else None)
        self.update(pending=Pending.SUPPORT if self.can_carry_on() else None)
        self.say(self.support_message(found.category))
        if self.can_carry_on():
            self.say(self.tr(CARRY_ON), [
                Choice(self.tr(CARRY_ON_YES), callbacks.encode(callbacks.CONFIRM, Pending.SUPPORT.value,
                                                               "yes")),
                Choice(self.tr(CARRY_ON_NO), callbacks.encode(callbacks.CONFIRM, Pending.SUPPORT.value,
                                                              "no")),
            ])
        return True

    def can_carry_on(self) -> bool:
        return not self.state.stopped and self.state.phase not in (Phase.NEW, Phase.LANGUAGE)

    def support_message(self, category: Category) -> str:
        return support_text(self.ctx, self.lang, category, self.state.city)

    def carry_on(self, yes: bool) -> None:
        if yes:
            self.acknowledgement = self.tr(CARRY_ON_YES)
            self.repeat()
        else:
            self.acknowledgement = self.tr(CARRY_ON_NO)
            self.say(self.tr("OK. The questions will wait. You can write to me at any time, and send "
                             "/start when you want to carry on."))

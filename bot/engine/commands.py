"""Commands, typed or understood, and the questions about the conversation itself: language,
stop and delete confirmations, start and resume."""

from __future__ import annotations

from bot.engine import callbacks, texts
from bot.engine.cues import Answer, yes_or_no
from bot.engine.matching import normalize
from bot.engine.messages import Choice, EventType
from bot.engine.state import ConversationState, Pending, Phase
from bot.engine.survey import LANGUAGES, QuestionType
from bot.engine.texts import N_
from bot.engine.turn import TurnBase
from bot.engine.understanding import Understanding

# Typed commands understood by the NLU act only above this confidence: at 0.8, one message in a
# hundred that was not a command acted as one ("jsp" as /help); at 0.9, fewer than one in 200.
INTENT_CONFIDENCE = 0.9
# Stopping and erasing cost the most when misread, and people ask for them in few, plain words:
# the NLU must be surer, and the message short (a long one that mentions stopping is a story).
DESTRUCTIVE_COMMANDS = frozenset({"stop", "delete"})
DESTRUCTIVE_CONFIDENCE = 0.95
DESTRUCTIVE_MAX_WORDS = 8
# On open questions a long message is an answer, even if it sounds like a command.
COMMAND_MAX_WORDS_IN_OPEN_ANSWER = 5

# Whole messages that work like a command when typed, even without the NLU.
TYPED_COMMANDS = {
    "stop": "stop", "arrete": "stop", "arret": "stop", "unsubscribe": "stop",
    "desabonner": "stop", "help": "help", "aide": "help", "skip": "skip", "passer": "skip",
    "suivant": "skip", "back": "back", "retour": "back", "precedent": "back", "profil": "profile",
    "profile": "profile",
}
INTENT_COMMANDS = {
    "stop": "stop", "help": "help", "skip": "skip", "back": "back",
    "change_language": "language", "delete_data": "delete", "my_data": "mydata",
    "privacy_question": "privacy", "restart": "start",
}
LANGUAGE_WORDS = {
    "fr": "fr", "francais": "fr", "french": "fr", "en": "en", "english": "en", "anglais": "en",
}


def command_in_text(text: str, understanding: Understanding | None, *, open_question: bool) -> str | None:
    """The command a typed message asks for, or None when it is not one (or not surely one)."""
    words = normalize(text)
    if words in TYPED_COMMANDS:
        return TYPED_COMMANDS[words]
    if understanding is None or understanding.intent is None:
        return None
    intent = understanding.intent
    command = INTENT_COMMANDS.get(intent.name)
    if command is None or intent.confidence < INTENT_CONFIDENCE:
        return None
    count = len(words.split())
    if open_question and count > COMMAND_MAX_WORDS_IN_OPEN_ANSWER:
        return None
    if command in DESTRUCTIVE_COMMANDS and (
            intent.confidence < DESTRUCTIVE_CONFIDENCE or count > DESTRUCTIVE_MAX_WORDS):
        return None
    return command


class Commands(TurnBase):
    def command(self, name: str) -> None:
        if self.state.stopped and name not in {"start", "delete", "mydata", "privacy", "help",
                                               "language"}:
            self.say(self.tr(texts.STOPPED))
            return
        self.update(pending=None, profile_edit=None)
        if name == "start":
            self.start()
        elif name == "help":
            self.say(self.tr(texts.HELP))
        elif name == "privacy":
            self.say(self.privacy_notice())
        elif name == "language":
            self.ask_language()
        elif name == "stop":
            self.stop()
        elif name == "delete":
            self.confirm(Pending.DELETE)
        elif name == "profile" and not self.state.stopped:
            self.profile_menu()
        elif name == "mydata":
            self.emit(EventType.DATA_REQUESTED, page=1)
        elif name == "back" and self.state.phase in {Phase.NEIGHBOURHOOD, Phase.ELSEWHERE}:
            # Back through onboarding: the city can still be changed before the survey starts.
            self.acknowledgement = self.tr(texts.BACK_BUTTON)
            self.enter(Phase.CITY)
        elif name in {"skip", "back"} and not self.state.stopped:
            self.control(callbacks.SKIP if name == "skip" else callbacks.BACK)
        else:
            self.say(self.tr("I don't know the command /{name}. Send /help to see what I can do.",
                             name=name))

    def typed_command(self, text: str) -> str | None:
        question = self.current_question()
        return command_in_text(text, self.inbound.understanding,
                               open_question=question is not None and question.type is QuestionType.TEXT)

    def command_from_text(self, command: str) -> None:
        # Typed words can be misread: what cannot be undone is confirmed first.
        if command == "stop":
            self.confirm(Pending.STOP)
        else:
            self.command(command)

    def start(self) -> None:
        if self.state.stopped:
            self.update(stopped=False)
            self.emit(EventType.PARTICIPANT_RESUMED)
            self.say(self.tr(texts.WELCOME_BACK))
            self.repeat()
            return
        if self.state.phase is Phase.NEW:
            self.say(self.tr(texts.WELCOME))
            if self.state.language is None:
                self.ask_language()
            else:
                self.enter(Phase.AGE)
            return
        # /start is how someone who said "Not now" comes back to a campaign.
        self.update(declined=())
        self.say(self.tr(texts.WELCOME_BACK))
        self.repeat()

    def stop(self) -> None:
        self.update(stopped=True)
        self.emit(EventType.PARTICIPANT_STOPPED)
        self.say(self.tr("Done: you will get no more messages from us. Your answers are kept; "
                         "send /delete to erase them, or /start to come back."))

    def confirm(self, pending: Pending) -> None:
        self.update(pending=pending)
        question = {
            Pending.DELETE: N_("Delete everything we have about you, including your answers? "
                               "This cannot be undone."),
            Pending.STOP: N_("Do you want to stop getting messages from us?"),
        }[pending]
        yes = {Pending.DELETE: texts.YES_DELETE, Pending.STOP: texts.YES_STOP}[pending]
        self.say(self.tr(question), [
            Choice(self.tr(yes), callbacks.encode(callbacks.CONFIRM, pending.value, "yes")),
            Choice(self.tr(texts.KEEP_GOING), callbacks.encode(callbacks.CONFIRM, pending.value, "no")),
        ])

    def confirmed(self, yes: bool) -> None:
        pending = self.state.pending
        self.update(pending=None)
        if pending is Pending.SUPPORT and not yes:
            self.carry_on(False)
            return
        if not yes:
            self.acknowledgement = self.tr(texts.KEEP_GOING)
            self.say(self.tr("OK, nothing changes."))
            self.repeat()
            return
        if pending is Pending.SUPPORT:
            self.carry_on(True)
        elif pending is Pending.STOP:
            self.acknowledgement = self.tr(texts.YES_STOP)
            self.stop()
        elif pending is Pending.DELETE:
            self.acknowledgement = self.tr(texts.YES_DELETE)
            self.emit(EventType.ERASURE_CONFIRMED)
            self.say(self.tr("Done: everything we had about you is deleted. "
                             "If you ever want to take part again, send /start."))
            self.state = ConversationState(language=self.state.language)

    def pending_text(self, text: str) -> bool:
        """A typed reply to a pending confirmation or language question; False if it is not one."""
        pending = self.state.pending
        if pending is Pending.LANGUAGE:
            language = LANGUAGE_WORDS.get(normalize(text))
            if language is None:
                return False
            self.choose_language(language)
            return True
        # Stopping and erasing follow only an unambiguous yes; anything else is read afresh.
        answer = yes_or_no(text, normalize(text).split())
        if answer not in {Answer.YES, Answer.NO}:
            return False
        self.confirmed(answer is Answer.YES)
        return True

    def ask_language(self) -> None:
        if self.state.language is not None:
            self.update(pending=Pending.LANGUAGE)
        else:
            self.update(phase=Phase.LANGUAGE)
        self.say_language_choice()

    def offer_language(self) -> None:
        """Once per conversation, when the person writes in both languages: two buttons that do
        not block anything else (the question they are on still takes its answer)."""
        state = self.state
        if (state.language_locked or state.language_offered or state.stopped
                or state.pending is not None or state.phase in {Phase.NEW, Phase.LANGUAGE}
                or any(e.type is EventType.DISCLOSURE_DETECTED for e in self.events)):
            return
        self.update(language_offered=True)
        self.emit(EventType.LANGUAGE_OFFERED)
        self.say_language_choice()

    def say_language_choice(self) -> None:
        prompt = "\n".join(dict.fromkeys(
            self.ctx.catalog.gettext(lang, "Which language do you prefer?") for lang in LANGUAGES))
        self.say(prompt, [
            Choice("Français", callbacks.encode(callbacks.LANGUAGE, "fr")),
            Choice("English", callbacks.encode(callbacks.LANGUAGE, "en")),
        ])

    def choose_language(self, language: str) -> None:
        if language not in LANGUAGES:
            self.reject("unknown_button", self.tr(texts.UNREADABLE_BUTTON))
            return
        # Chosen on request (/language) or when offered: it sticks. The first choice, asked
        # because the interface language was unknown, does not.
        explicit = self.state.pending is Pending.LANGUAGE or self.state.language_offered
        self.update(pending=None, language_locked=self.state.language_locked or explicit)
        self.apply_language(language)
        self.acknowledgement = "Français" if language == "fr" else "English"
        self.say(self.tr("OK, we'll talk in English."))
        if self.state.phase is Phase.LANGUAGE:
            self.enter(Phase.AGE)
        else:
            self.repeat()

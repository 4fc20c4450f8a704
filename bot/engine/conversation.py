"""The conversation engine: step(context, state, inbound) -> Step. Pure: no I/O, no clock, no globals.

Onboarding (language, age band, parental consent when needed, privacy notice and consent, city,
neighbourhood) then the open campaigns for the participant's city, one question at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.engine import callbacks, campaigns
from bot.engine.campaigns import ALWAYS, Window
from bot.engine.community import Community
from bot.engine.loader import YES_NO
from bot.engine.matching import match_options, normalize, parse_number
from bot.engine.messages import (
    AnswerRecord,
    Choice,
    Event,
    EventType,
    Inbound,
    InboundKind,
    Outbound,
    Step,
)
from bot.engine.state import ConversationState, Pending, Phase
from bot.engine.survey import END, LANGUAGES, Option, Question, QuestionType, Survey, Text
from bot.engine.texts import N_, Catalog
from bot.engine.understanding import topic_of

MAX_INVALID = 3
WELCOME_BACK_AFTER = timedelta(hours=12)
# Typed commands understood by the NLU act only above this confidence.
INTENT_CONFIDENCE = 0.8
# On open questions a long message is an answer, even if it sounds like a command.
COMMAND_MAX_WORDS_IN_OPEN_ANSWER = 5

UNDER = "under"
OVER = "over"
OTHER_CITY = "other"
UNSAID = "unsaid"

# Whole messages that work like a command when typed, even without the NLU.
TYPED_COMMANDS = {
    "stop": "stop", "arrete": "stop", "arret": "stop", "unsubscribe": "stop",
    "desabonner": "stop", "help": "help", "aide": "help", "skip": "skip", "passer": "skip",
    "suivant": "skip", "back": "back", "retour": "back", "precedent": "back",
}
INTENT_COMMANDS = {
    "stop": "stop", "help": "help", "skip": "skip", "back": "back",
    "change_language": "language", "delete_data": "delete", "my_data": "mydata",
    "privacy_question": "privacy", "restart": "start",
}
LANGUAGE_WORDS = {
    "fr": "fr", "francais": "fr", "french": "fr", "en": "en", "english": "en", "anglais": "en",
}


@dataclass(frozen=True)
class Context:
    community: Community
    # The current version of each campaign offered, in the order they are offered.
    campaigns: tuple[Survey, ...]
    catalog: Catalog
    # Every stored version, so that a participant finishes the version they started.
    versions: Mapping[tuple[str, int], Survey] = field(default_factory=dict)
    windows: Mapping[str, Window] = field(default_factory=dict)

    def window(self, campaign_id: str) -> Window:
        return self.windows.get(campaign_id, ALWAYS)


def step(context: Context, state: ConversationState, inbound: Inbound) -> Step:
    """Apply one inbound message to a conversation."""
    return _Turn(context, state, inbound).run()


class _Turn:
    def __init__(self, context: Context, state: ConversationState, inbound: Inbound) -> None:
        self.ctx = context
        self.state = state
        self.inbound = inbound
        self.outbound: list[Outbound] = []
        self.answers: list[AnswerRecord] = []
        self.events: list[Event] = []
        self.acknowledgement: str | None = None
        self.returning = False

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def lang(self) -> str:
        return self.state.language or self.ctx.community.default_language

    def tr(self, message: str, **values: Any) -> str:
        text = self.ctx.catalog.gettext(self.lang, message)
        return text.format(**values) if values else text

    def both(self, message: str) -> Text:
        return Text(self.ctx.catalog.gettext("fr", message), self.ctx.catalog.gettext("en", message))

    def say(self, text: str, choices: Sequence[Choice] = (), replace: bool = False,
            expects_text: bool = False) -> None:
        self.outbound.append(Outbound(text, tuple(choices), replace, expects_text))

    def emit(self, event_type: EventType, **data: Any) -> None:
        self.events.append(Event(event_type, data))

    def update(self, **changes: Any) -> None:
        self.state = self.state.evolve(**changes)

    def run(self) -> Step:
        previous = self.state.seen_at()
        self.returning = previous is not None and self.inbound.now - previous > WELCOME_BACK_AFTER
        self._apply_language(self.inbound.language)
        self.update(last_seen=self.inbound.now.isoformat())
        kind = self.inbound.kind
        if (kind in (InboundKind.TEXT, InboundKind.BUTTON) and self.state.pending is None
                and not self.state.stopped and self.current_campaign_closed()):
            self.campaign_closed()
        elif kind is InboundKind.COMMAND:
            self.command(self.inbound.command)
        elif kind is InboundKind.BUTTON:
            self.button(self.inbound.data)
        elif kind is InboundKind.TEXT:
            self.text(self.inbound.text)
        elif kind is InboundKind.EDITED:
            if not self.state.stopped:
                self.say(self.tr("I can't take edited messages into account. To change your "
                                 "previous answer, send /back."))
        else:
            self.unsupported()
        return Step(self.state, tuple(self.outbound), tuple(self.answers), tuple(self.events),
                    self.acknowledgement)

    def _apply_language(self, language: str | None) -> bool:
        if language not in LANGUAGES or language == self.state.language:
            return False
        self.emit(EventType.LANGUAGE_CHANGED, previous=self.state.language, language=language)
        self.update(language=language)
        return True

    # -- entry points ------------------------------------------------------------------------

    def command(self, name: str) -> None:
        if self.state.stopped and name not in {"start", "delete", "mydata", "privacy", "help",
                                               "language"}:
            self.say(self.tr("You have stopped messages from us. Send /start to take part again."))
            return
        self.update(pending=None)
        if name == "start":
            self.start()
        elif name == "help":
            self.say(self.tr(HELP))
        elif name == "privacy":
            self.say(self.privacy_notice())
        elif name == "language":
            self.ask_language()
        elif name == "stop":
            self.stop()
        elif name == "delete":
            self.confirm(Pending.DELETE)
        elif name == "mydata":
            self.emit(EventType.DATA_REQUESTED)
        elif name in {"skip", "back"} and not self.state.stopped:
            self.control(callbacks.SKIP if name == "skip" else callbacks.BACK)
        else:
            self.say(self.tr("I don't know the command /{name}. Send /help to see what I can do.",
                             name=name))

    def button(self, data: str) -> None:
        payload = callbacks.decode(data)
        if payload is None:
            self.reject("unknown_button", self.tr("Sorry, I could not read that button."))
            return
        if self.state.stopped:
            self.say(self.tr("You have stopped messages from us. Send /start to take part again."))
            return
        parts = payload.parts
        if payload.scope == callbacks.INVITE:
            self.invitation_pressed(parts[0], parts[1] == campaigns.START)
            return
        if payload.scope == callbacks.LANGUAGE:
            if self.state.pending is Pending.LANGUAGE or self.state.language is None:
                self.choose_language(parts[0])
                return
        elif payload.scope == callbacks.CONFIRM:
            if self.state.pending is not None and parts[0] == self.state.pending.value:
                self.confirmed(parts[1] == "yes")
                return
        elif payload.scope == callbacks.ONBOARDING:
            if parts[0] == self.state.phase.value and self.state.pending is None:
                self.onboarding_answer(parts[1], pressed=True)
                return
        elif (payload.scope == callbacks.ANSWER and self.state.phase is Phase.SURVEY
              and self.state.pending is None
              and (parts[0], parts[1]) == (self.state.campaign, self.state.question)):
            self.question_button(parts[2])
            return
        self.reject("stale_button",
                    self.tr("That button belongs to an earlier message. Here is where we are:"))

    def text(self, text: str) -> None:
        if self.state.stopped:
            self.say(self.tr("You have stopped messages from us. Send /start to take part again."))
            return
        if self.state.pending is not None and self.pending_text(text):
            return
        self.update(pending=None)
        typed = self.typed_command(text)
        if typed is not None:
            self.command_from_text(typed)
            return
        phase = self.state.phase
        if phase is Phase.NEW:
            self.start()
        elif phase is Phase.LANGUAGE:
            self.ask_language()
        elif phase is Phase.SURVEY:
            self.survey_text(text)
        elif phase is Phase.IDLE:
            self.idle()
        else:
            self.onboarding_answer(text, pressed=False)

    def unsupported(self) -> None:
        if self.state.stopped:
            return
        self.say(self.tr("I can only read text and buttons for now."))
        self.repeat()

    # -- commands ----------------------------------------------------------------------------

    def typed_command(self, text: str) -> str | None:
        words = normalize(text)
        if words in TYPED_COMMANDS:
            return TYPED_COMMANDS[words]
        understanding = self.inbound.understanding
        if understanding is None or understanding.intent is None:
            return None
        intent = understanding.intent
        command = INTENT_COMMANDS.get(intent.name)
        if command is None or intent.confidence < INTENT_CONFIDENCE:
            return None
        question = self.current_question()
        if question is not None and question.type is QuestionType.TEXT and (
                len(words.split()) > COMMAND_MAX_WORDS_IN_OPEN_ANSWER):
            return None
        return command

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
            self.say(self.tr("Welcome back! Let's pick up where you left off."))
            self.repeat()
            return
        if self.state.phase is Phase.NEW:
            self.say(self.tr(WELCOME))
            if self.state.language is None:
                self.ask_language()
            else:
                self.enter(Phase.AGE)
            return
        # /start is how someone who said "Not now" comes back to a campaign.
        self.update(declined=())
        self.say(self.tr("Welcome back! Let's pick up where you left off."))
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
        yes = {Pending.DELETE: N_("Yes, delete everything"), Pending.STOP: N_("Yes, stop")}[pending]
        self.say(self.tr(question), [
            Choice(self.tr(yes), callbacks.encode(callbacks.CONFIRM, pending.value, "yes")),
            Choice(self.tr("No, keep going"), callbacks.encode(callbacks.CONFIRM, pending.value, "no")),
        ])

    def confirmed(self, yes: bool) -> None:
        pending = self.state.pending
        self.update(pending=None)
        if not yes:
            self.acknowledgement = self.tr("No, keep going")
            self.say(self.tr("OK, nothing changes."))
            self.repeat()
            return
        if pending is Pending.STOP:
            self.acknowledgement = self.tr("Yes, stop")
            self.stop()
        elif pending is Pending.DELETE:
            self.acknowledgement = self.tr("Yes, delete everything")
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
        matched = match_options(text, YES_NO)
        if len(matched) != 1:
            return False
        self.confirmed(matched[0] == "yes")
        return True

    def ask_language(self) -> None:
        if self.state.language is not None:
            self.update(pending=Pending.LANGUAGE)
        else:
            self.update(phase=Phase.LANGUAGE)
        prompt = "\n".join(dict.fromkeys(
            self.ctx.catalog.gettext(lang, "Which language do you prefer?") for lang in LANGUAGES))
        self.say(prompt, [
            Choice("Français", callbacks.encode(callbacks.LANGUAGE, "fr")),
            Choice("English", callbacks.encode(callbacks.LANGUAGE, "en")),
        ])

    def choose_language(self, language: str) -> None:
        if language not in LANGUAGES:
            self.reject("unknown_button", self.tr("Sorry, I could not read that button."))
            return
        explicit = self.state.pending is Pending.LANGUAGE
        self.update(pending=None, language_locked=self.state.language_locked or explicit)
        self._apply_language(language)
        self.acknowledgement = "Français" if language == "fr" else "English"
        self.say(self.tr("OK, we'll talk in English."))
        if self.state.phase is Phase.LANGUAGE:
            self.enter(Phase.AGE)
        else:
            self.repeat()

    def privacy_notice(self) -> str:
        return self.tr(PRIVACY, contact=self.ctx.community.privacy_contact)

    # -- onboarding --------------------------------------------------------------------------

    def onboarding_options(self, phase: Phase) -> list[Option]:
        community = self.ctx.community
        if phase is Phase.AGE:
            options = [Option(UNDER, self.both("Under {age}"), ())]
            options += [Option(b.id, Text(b.id, b.id)) for b in community.age_bands]
            options.append(Option(OVER, self.both("{age} or older"), ()))
            return options
        if phase is Phase.CONSENT:
            return [Option("yes", self.both("Yes, I agree"), YES_NO[0].synonyms),
                    Option("no", self.both("No thanks"), YES_NO[1].synonyms)]
        if phase is Phase.PARENTAL:
            return [Option("yes", self.both("Yes"), YES_NO[0].synonyms),
                    Option("no", self.both("Not yet"), YES_NO[1].synonyms)]
        if phase is Phase.CITY:
            options = [Option(c.id, c.name) for c in community.cities]
            return [*options, Option(OTHER_CITY, self.both("Another city"))]
        city = community.city(self.state.city)
        places = [Option(p.id, p.name) for p in city.neighbourhoods] if city else []
        return [*places, Option(UNSAID, self.both("I'd rather not say"))]

    def option_label(self, option: Option) -> str:
        label = option.label.in_(self.lang)
        ages = {UNDER: self.ctx.community.min_age, OVER: self.ctx.community.max_age + 1}
        return label.format(age=ages[option.id]) if option.id in ages else label

    def enter(self, phase: Phase) -> None:
        self.update(phase=phase, invalid_count=0)
        self.ask_onboarding()

    def ask_onboarding(self) -> None:
        phase = self.state.phase
        prompts = {
            Phase.AGE: self.tr("First, how old are you?"),
            Phase.PARENTAL: self.tr(
                "Because you are under {age}, a parent or guardian needs to agree that you take "
                "part. Has one of them agreed?", age=self.ctx.community.digital_consent_age),
            Phase.CONSENT: self.privacy_notice() + "\n\n" + self.tr("Do you agree to take part?"),
            Phase.CITY: self.tr("Which city do you live in?"),
            Phase.NEIGHBOURHOOD: self.tr("And which neighbourhood?"),
        }
        choices = [Choice(self.option_label(o),
                          callbacks.encode(callbacks.ONBOARDING, phase.value, o.id))
                   for o in self.onboarding_options(phase)]
        self.say(prompts[phase], choices)

    def onboarding_answer(self, value: str, *, pressed: bool) -> None:
        phase = self.state.phase
        options = self.onboarding_options(phase)
        if pressed:
            chosen = next((o for o in options if o.id == value), None)
        else:
            chosen = self.typed_onboarding_option(value, options)
        if chosen is None:
            self.invalid(self.tr("Sorry, I didn't get that. Tap one of the buttons, "
                                 "or type your answer."))
            return
        self.acknowledgement = self.option_label(chosen)
        handlers = {
            Phase.AGE: self.age_chosen,
            Phase.PARENTAL: self.parental_chosen,
            Phase.CONSENT: self.consent_chosen,
            Phase.CITY: self.city_chosen,
            Phase.NEIGHBOURHOOD: self.neighbourhood_chosen,
        }
        handlers[phase](chosen.id)

    def typed_onboarding_option(self, text: str, options: list[Option]) -> Option | None:
        if self.state.phase is Phase.AGE:
            age = parse_number(text)
            if age is not None and age == int(age):
                community = self.ctx.community
                if age < community.min_age:
                    return options[0]
                if age > community.max_age:
                    return options[-1]
                band = community.band_for_age(int(age))
                return next((o for o in options if band and o.id == band.id), None)
        matched = self.matching(text, options)
        return next((o for o in options if o.id == matched[0]), None) if len(matched) == 1 else None

    def matching(self, text: str, options: Sequence[Option]) -> list[str]:
        """Options a typed answer names: labels and synonyms first, then what the NLU recognised."""
        matched = match_options(text, options)
        understanding = self.inbound.understanding
        if matched or understanding is None:
            return matched
        for entity in understanding.entities:
            matched += [o for o in match_options(entity.value, options) if o not in matched]
        return matched

    def age_chosen(self, band_id: str) -> None:
        if band_id in {UNDER, OVER}:
            self.emit(EventType.NOT_ELIGIBLE, reason="age")
            self.say(self.tr("YouthVoice is for people aged {low} to {high}, so we can't ask you "
                             "our questions. We have kept nothing about you. Thanks for stopping by!",
                             low=self.ctx.community.min_age, high=self.ctx.community.max_age))
            self.state = ConversationState(language=self.state.language)
            return
        self.update(age_band=band_id)
        band = self.ctx.community.band(band_id)
        if band is not None and band.min < self.ctx.community.digital_consent_age:
            self.enter(Phase.PARENTAL)
        else:
            self.enter(Phase.CONSENT)

    def parental_chosen(self, value: str) -> None:
        if value != "yes":
            self.emit(EventType.NOT_ELIGIBLE, reason="parental_consent")
            self.say(self.tr("No problem. Talk about it with a parent or guardian, then send "
                             "/start when they agree. We have kept nothing about you."))
            self.state = ConversationState(language=self.state.language)
            return
        self.emit(EventType.CONSENT_GIVEN, kind="parental", age_band=self.state.age_band,
                  notice_version=self.ctx.community.notice_version)
        self.enter(Phase.CONSENT)

    def consent_chosen(self, value: str) -> None:
        if value != "yes":
            self.emit(EventType.CONSENT_REFUSED)
            self.say(self.tr("No problem: we have kept nothing about you. If you change your mind, "
                             "send /start."))
            self.state = ConversationState(language=self.state.language)
            return
        self.emit(EventType.CONSENT_GIVEN, kind="participation", age_band=self.state.age_band,
                  notice_version=self.ctx.community.notice_version)
        self.emit(EventType.PROFILE_UPDATED, age_band=self.state.age_band,
                  language=self.state.language)
        self.enter(Phase.CITY)

    def city_chosen(self, city_id: str) -> None:
        self.update(city=city_id)
        self.emit(EventType.PROFILE_UPDATED, city=city_id)
        city = self.ctx.community.city(city_id)
        if city is None or not city.neighbourhoods:
            self.finish_onboarding()
        else:
            self.enter(Phase.NEIGHBOURHOOD)

    def neighbourhood_chosen(self, place_id: str) -> None:
        self.update(neighbourhood=None if place_id == UNSAID else place_id)
        self.emit(EventType.PROFILE_UPDATED, neighbourhood=self.state.neighbourhood)
        self.finish_onboarding()

    def finish_onboarding(self) -> None:
        self.emit(EventType.ONBOARDING_COMPLETED)
        self.update(phase=Phase.IDLE, invalid_count=0)
        self.say(self.tr("Thanks, you're all set!"))
        self.next_campaign()

    # -- campaigns ---------------------------------------------------------------------------

    def open_campaigns(self) -> list[Survey]:
        """What to offer now: open, meant for this participant, not done, not put off; chosen first."""
        state = self.state
        offered = [s for s in self.ctx.campaigns
                   if s.id not in state.completed and s.id not in state.declined
                   and self.is_for_me(s)]
        return sorted(offered, key=lambda s: s.id not in state.invited)

    def is_for_me(self, survey: Survey) -> bool:
        state = self.state
        return (survey.audience.includes(state.city, state.neighbourhood, state.age_band, self.lang)
                and self.ctx.window(survey.id).is_open(state.city, self.inbound.now))

    def next_campaign(self) -> None:
        remaining = self.open_campaigns()
        if not remaining:
            self.update(phase=Phase.IDLE, campaign=None, campaign_version=None, question=None)
            self.say(self.tr("There is no survey for you right now. We'll message you when there "
                             "is a new one."))
            return
        self.begin(remaining[0])

    def begin(self, survey: Survey) -> None:
        self.update(phase=Phase.SURVEY, campaign=survey.id, campaign_version=survey.version,
                    history=(), answers={}, selection=(), invalid_count=0,
                    invited=tuple(c for c in self.state.invited if c != survey.id),
                    declined=tuple(c for c in self.state.declined if c != survey.id))
        self.emit(EventType.SURVEY_STARTED, campaign=survey.id, version=survey.version)
        self.say(f"{survey.title.in_(self.lang)}\n{survey.intro.in_(self.lang)}")
        self.advance_from(0)

    def idle(self) -> None:
        if self.open_campaigns():
            self.next_campaign()
        else:
            self.say(self.tr("There is no survey for you right now. We'll message you when there "
                             "is a new one."))

    def current_survey(self) -> Survey | None:
        """The version this participant started, even if a newer one was published since."""
        state = self.state
        if state.phase is not Phase.SURVEY or state.campaign is None:
            return None
        pinned = self.ctx.versions.get((state.campaign, state.campaign_version or 0))
        if pinned is not None:
            return pinned
        return next((s for s in self.ctx.campaigns
                     if s.id == state.campaign and s.version == state.campaign_version), None)

    def current_campaign_closed(self) -> bool:
        state = self.state
        return (state.phase is Phase.SURVEY and state.campaign is not None
                and self.ctx.window(state.campaign).has_closed(state.city, self.inbound.now))

    def campaign_closed(self) -> None:
        """A late answer: thank them, store nothing, and leave the campaign."""
        self.emit(EventType.SURVEY_CLOSED, campaign=self.state.campaign)
        self.say(self.tr(campaigns.CLOSED))
        self.update(phase=Phase.IDLE, campaign=None, campaign_version=None, question=None,
                    history=(), answers={}, selection=(), invalid_count=0)

    def invitation_pressed(self, campaign_id: str, start: bool) -> None:
        survey = next((s for s in self.ctx.campaigns if s.id == campaign_id), None)
        state = self.state
        if not start:
            self.acknowledgement = self.tr(campaigns.LATER_LABEL)
            self.emit(EventType.INVITATION_DECLINED, campaign=campaign_id)
            if campaign_id not in state.declined:
                self.update(declined=(*state.declined, campaign_id))
            self.say(self.tr("No problem. If you change your mind, send /start."))
            if state.phase is Phase.SURVEY:
                self.repeat()
            return
        self.acknowledgement = self.tr(campaigns.START_LABEL)
        if survey is None or self.ctx.window(campaign_id).has_closed(state.city, self.inbound.now):
            self.say(self.tr(campaigns.CLOSED))
            self.repeat()
            return
        if campaign_id in state.completed:
            self.say(self.tr("You have already answered this survey: thank you!"))
            return
        self.emit(EventType.INVITATION_ACCEPTED, campaign=campaign_id)
        if state.phase is Phase.SURVEY and state.campaign == campaign_id:
            self.repeat()
        elif state.phase is Phase.SURVEY:
            self.update(invited=(*state.invited, campaign_id),
                        declined=tuple(c for c in state.declined if c != campaign_id))
            self.say(self.tr("Let's finish this survey first: “{title}” starts right after.",
                             title=survey.title.in_(self.lang)))
            self.repeat()
        elif state.phase is Phase.IDLE:
            self.begin(survey)
        else:
            self.repeat()

    def current_question(self) -> Question | None:
        survey = self.current_survey()
        return survey.question(self.state.question) if survey and self.state.question else None

    def repeat(self) -> None:
        """Show again what the participant is expected to answer."""
        if self.state.stopped:
            return
        phase = self.state.phase
        if phase is Phase.NEW:
            self.start()
        elif phase is Phase.LANGUAGE:
            self.ask_language()
        elif phase is Phase.IDLE:
            self.idle()
        elif phase is Phase.SURVEY:
            question = self.current_question()
            if question is None:
                # The campaign was withdrawn or changed under this conversation.
                self.update(phase=Phase.IDLE)
                self.next_campaign()
            else:
                self.ask(question, previous=self.state.answers.get(question.id))
        else:
            self.ask_onboarding()

    # -- questions ---------------------------------------------------------------------------

    def ask(self, question: Question, previous: Any = None, replace: bool = False) -> None:
        survey = self.current_survey()
        assert survey is not None
        lines = [question.text.in_(self.lang)]
        if question.type is QuestionType.SCALE and question.low_label and question.high_label:
            lines.append(f"1 = {question.low_label.in_(self.lang)} … "
                         f"5 = {question.high_label.in_(self.lang)}")
        if question.type is QuestionType.MULTIPLE:
            lines.append(self.tr("Tap all that apply, then Done."))
        if question.type is QuestionType.NUMBER:
            lines.append(self.number_hint(question))
        if previous is not None and not replace:
            lines.append(self.tr("Your previous answer: {answer}",
                                 answer=self.describe(question, previous)))
        choices = [Choice(self.choice_label(question, o), callbacks.answer(survey.id, question.id, o.id))
                   for o in question.options]
        if question.type is QuestionType.MULTIPLE:
            choices.append(Choice(self.tr("Done ✔"),
                                  callbacks.answer(survey.id, question.id, callbacks.DONE)))
        if self.state.history:
            choices.append(Choice(self.tr("⬅ Back"),
                                  callbacks.answer(survey.id, question.id, callbacks.BACK)))
        if not question.required:
            choices.append(Choice(self.tr("Skip ⏭"),
                                  callbacks.answer(survey.id, question.id, callbacks.SKIP)))
        self.say("\n".join(lines), choices, replace,
                 expects_text=question.type in (QuestionType.NUMBER, QuestionType.TEXT))
        if not replace:
            self.emit(EventType.QUESTION_ASKED, campaign=survey.id, question=question.id)

    def choice_label(self, question: Question, option: Option) -> str:
        label = option.label.in_(self.lang)
        if question.type is QuestionType.MULTIPLE and option.id in self.state.selection:
            return f"✅ {label}"
        return label

    def number_hint(self, question: Question) -> str:
        if question.min is not None and question.max is not None:
            return self.tr("Send a number from {low} to {high}.", low=f"{question.min:g}",
                           high=f"{question.max:g}")
        return self.tr("Send a number.")

    def describe(self, question: Question, answer: dict[str, Any]) -> str:
        if answer.get("skipped"):
            return self.tr("skipped")
        if "options" in answer:
            labels = [o.label.in_(self.lang) for o in question.options if o.id in answer["options"]]
            return ", ".join(labels)
        if "number" in answer:
            return f"{answer['number']:g}"
        return str(answer.get("text", ""))

    def question_button(self, value: str) -> None:
        question = self.current_question()
        assert question is not None
        if value in {callbacks.SKIP, callbacks.BACK}:
            self.control(value)
        elif value == callbacks.DONE and question.type is QuestionType.MULTIPLE:
            self.finish_multiple(question)
        elif question.option(value) is None:
            self.reject("stale_button",
                        self.tr("That button belongs to an earlier message. Here is where we are:"))
        elif question.type is QuestionType.MULTIPLE:
            selection = set(self.state.selection) ^ {value}
            self.update(selection=tuple(o.id for o in question.options if o.id in selection))
            self.ask(question, replace=True)
        else:
            self.choose(question, (value,))

    def survey_text(self, text: str) -> None:
        question = self.current_question()
        if question is None:
            self.repeat()
            return
        if question.type is QuestionType.TEXT:
            self.open_answer(question, text)
        elif question.type is QuestionType.NUMBER:
            self.number_answer(question, text)
        else:
            matched = self.matching(text, question.options)
            if (question.type is QuestionType.MULTIPLE and matched) or len(matched) == 1:
                self.choose(question, tuple(matched))
            else:
                self.invalid(self.tr("Sorry, I didn't get that. Tap one of the buttons, "
                                     "or type your answer."))

    def control(self, value: str) -> None:
        question = self.current_question()
        if question is None:
            self.repeat()
            return
        if value == callbacks.BACK:
            self.back()
        elif question.required:
            self.invalid(self.tr("This question matters to us: please answer it."))
        else:
            self.acknowledgement = self.tr("Skip ⏭")
            self.emit(EventType.QUESTION_SKIPPED, question=question.id)
            self.record(question, {"skipped": True}, skipped=True)
            self.advance(question, None)

    def back(self) -> None:
        if not self.state.history:
            self.say(self.tr("This is the first question."))
            self.repeat()
            return
        previous = self.state.history[-1]
        self.acknowledgement = self.tr("⬅ Back")
        self.update(history=self.state.history[:-1], question=previous, selection=(),
                    invalid_count=0)
        self.emit(EventType.WENT_BACK, question=previous)
        question = self.current_question()
        assert question is not None
        answer = self.state.answers.get(previous)
        if question.type is QuestionType.MULTIPLE and answer and "options" in answer:
            self.update(selection=tuple(answer["options"]))
        self.ask(question, previous=answer)

    def finish_multiple(self, question: Question) -> None:
        if not self.state.selection:
            self.invalid(self.tr("Choose at least one option, then Done."))
            return
        self.choose(question, self.state.selection)

    def choose(self, question: Question, option_ids: tuple[str, ...]) -> None:
        labels = [o.label.in_(self.lang) for o in question.options if o.id in option_ids]
        self.acknowledgement = ", ".join(labels)
        self.record(question, {"options": list(option_ids)}, option_ids=option_ids)
        goto = next((o.next for o in question.options if o.id in option_ids and o.next), None)
        self.advance(question, goto)

    def number_answer(self, question: Question, text: str) -> None:
        number = parse_number(text)
        if number is None or (question.integer and number != int(number)) or (
                question.min is not None and number < question.min) or (
                question.max is not None and number > question.max):
            self.invalid(self.tr("Sorry, that isn't a number I can use.") + " "
                         + self.number_hint(question))
            return
        self.acknowledgement = f"{number:g}"
        self.record(question, {"number": number}, number=number)
        self.advance(question, None)

    def open_answer(self, question: Question, text: str) -> None:
        answer = text.strip()
        if not answer:
            self.invalid(self.tr("Type your answer, or tap Skip."))
            return
        if len(answer) > question.max_length:
            self.invalid(self.tr("That's a bit long: please keep it under {limit} characters.",
                                 limit=question.max_length))
            return
        topic, confidence = topic_of(self.inbound.understanding)
        self.record(question, {"text": answer}, text=answer, topic=topic,
                    topic_confidence=confidence, understanding_pending=not self.inbound.understood)
        self.advance(question, None)

    def record(self, question: Question, summary: dict[str, Any], **fields: Any) -> None:
        survey = self.current_survey()
        assert survey is not None
        self.answers.append(AnswerRecord(
            campaign_id=survey.id, campaign_version=survey.version, question_id=question.id,
            language=self.lang, answered_at=self.inbound.now, **fields))
        if not summary.get("skipped"):
            self.emit(EventType.ANSWER_RECORDED, campaign=survey.id, question=question.id)
        self.update(answers={**self.state.answers, question.id: summary},
                    history=(*self.state.history, question.id), selection=(), invalid_count=0)

    def advance(self, question: Question, goto: str | None) -> None:
        survey = self.current_survey()
        assert survey is not None
        target = goto or question.next
        if target == END:
            self.complete(survey)
            return
        start = survey.index(target) if target else survey.index(question.id) + 1
        self.advance_from(start)

    def advance_from(self, start: int) -> None:
        survey = self.current_survey()
        assert survey is not None
        for question in survey.questions[start:]:
            if self.shown(question):
                self.update(question=question.id, selection=(), invalid_count=0)
                self.ask(question)
                return
        self.complete(survey)

    def shown(self, question: Question) -> bool:
        condition = question.show_if
        if condition is None:
            return True
        answer = self.state.answers.get(condition.question) or {}
        if condition.any_of:
            return bool(set(answer.get("options", ())) & set(condition.any_of))
        number = answer.get("number")
        if number is None:
            return False
        return ((condition.min is None or number >= condition.min)
                and (condition.max is None or number <= condition.max))

    def complete(self, survey: Survey) -> None:
        self.emit(EventType.SURVEY_COMPLETED, campaign=survey.id, version=survey.version)
        self.say(survey.closing.in_(self.lang))
        self.update(completed=(*self.state.completed, survey.id), question=None, history=(),
                    answers={}, phase=Phase.IDLE)
        if self.open_campaigns():
            self.next_campaign()

    # -- errors ------------------------------------------------------------------------------

    def reject(self, reason: str, message: str) -> None:
        self.emit(EventType.INPUT_REJECTED, reason=reason)
        self.say(message)
        self.repeat()

    def invalid(self, message: str) -> None:
        """A clear re-ask, a bounded number of times; then move on or point to help."""
        if self.returning:
            self.say(self.tr("Welcome back! Let's pick up where you left off."))
            self.repeat()
            return
        count = self.state.invalid_count + 1
        self.emit(EventType.INPUT_REJECTED, reason="invalid_answer", attempt=count)
        question = self.current_question()
        if count < MAX_INVALID:
            self.update(invalid_count=count)
            self.say(message)
            self.repeat()
            return
        if question is not None and not question.required:
            self.say(self.tr("Let's leave that one for now."))
            self.emit(EventType.QUESTION_SKIPPED, question=question.id, reason="invalid_answers")
            self.record(question, {"skipped": True}, skipped=True)
            self.advance(question, None)
            return
        self.update(invalid_count=0)
        self.say(message + "\n" + self.tr("If you're stuck, send /help."))
        self.repeat()


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

"""Onboarding: age band, parental agreement when needed, privacy notice and consent, city and
neighbourhood, asked with buttons and understood when typed."""

from __future__ import annotations

from bot.engine import callbacks, texts
from bot.engine.loader import YES_NO
from bot.engine.matching import parse_number
from bot.engine.messages import Choice, EventType
from bot.engine.state import ConversationState, Phase
from bot.engine.survey import Option, Text
from bot.engine.turn import TurnBase

UNDER = "under"
OVER = "over"
OTHER_CITY = "other"
UNSAID = "unsaid"


class Onboarding(TurnBase):
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
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))
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

"""Onboarding: age band, parental agreement when needed, privacy notice and consent, city and
neighbourhood, asked with buttons and understood when typed."""

from __future__ import annotations

from bot.engine import callbacks, texts
from bot.engine.age import possible_ages
from bot.engine.community import OTHER_CITY
from bot.engine.cues import Answer, yes_or_no
from bot.engine.loader import YES_NO
from bot.engine.matching import normalize, read_choice
from bot.engine.messages import Choice, EventType
from bot.engine.profile import Profile
from bot.engine.state import ConversationState, Phase
from bot.engine.survey import Option, Text

UNDER = "under"
OVER = "over"
UNSAID = "unsaid"


class Onboarding(Profile):
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
        if phase is Phase.ELSEWHERE:
            return [Option("yes", self.both("Yes, go on"), YES_NO[0].synonyms),
                    Option("no", self.both("No thanks"), YES_NO[1].synonyms)]
        city = community.city(self.state.city)
        places = [Option(p.id, p.name, p.aliases) for p in city.neighbourhoods] if city else []
        return [*places, Option(UNSAID, self.both("I'd rather not say"))]

    def option_label(self, option: Option) -> str:
        label = option.label.in_(self.lang)
        ages = {UNDER: self.ctx.community.min_age, OVER: self.ctx.community.max_age + 1}
        return label.format(age=ages[option.id]) if option.id in ages else label

    def enter(self, phase: Phase) -> None:
        self.update(phase=phase, invalid_count=0)
        self.ask_onboarding(first_time=True)

    @property
    def onboarding_phase(self) -> Phase:
        """The step being asked: the onboarding's own, or one asked again from /profile."""
        edit = self.state.profile_edit
        return Phase(edit) if edit is not None and edit in set(Phase) else self.state.phase

    @property
    def editing(self) -> bool:
        return self.state.profile_edit is not None

    def ask_onboarding(self, first_time: bool = False) -> None:
        """Ask the current step; the privacy notice is shown in full only the first time."""
        phase = self.onboarding_phase
        prompts = {
            Phase.AGE: self.tr(texts.HOW_OLD if self.editing else "First, how old are you?"),
            Phase.PARENTAL: self.tr(
                "Because you are under {age}, a parent or guardian needs to agree that you take "
                "part. Has one of them agreed?",
                age=self.state.consent_age or self.ctx.community.consent_age(
                    self.ctx.community.city(self.state.city))),
            Phase.CONSENT: self.privacy_notice() + "\n\n" + self.tr(texts.CONSENT_QUESTION)
            if first_time else self.tr(texts.CONSENT_QUESTION_AGAIN),
            Phase.CITY: self.tr("Which city do you live in?"),
            Phase.NEIGHBOURHOOD: self.tr("And which neighbourhood?"),
            Phase.ELSEWHERE: self.tr(texts.ELSEWHERE, cities=self.city_names()),
        }
        self.say(prompts[phase], self.onboarding_choices(self.onboarding_options(phase)))

    def onboarding_choices(self, options: list[Option]) -> list[Choice]:
        return [Choice(self.option_label(o),
                       callbacks.encode(callbacks.ONBOARDING, self.onboarding_phase.value, o.id))
                for o in options]

    def city_names(self) -> str:
        names = [c.name.in_(self.lang) for c in self.ctx.community.cities]
        if len(names) < 2:
            return "".join(names)
        return self.tr(texts.AND_LIST, first=", ".join(names[:-1]), last=names[-1])

    def onboarding_answer(self, value: str, *, pressed: bool) -> None:
        phase = self.onboarding_phase
        options = self.onboarding_options(phase)
        if pressed:
            chosen = next((o for o in options if o.id == value), None)
            if chosen is None:
                self.invalid(self.tr(texts.NOT_UNDERSTOOD))
                return
        else:
            chosen = self.typed_onboarding_option(value, options)
            if chosen is None:
                return
        self.acknowledgement = self.option_label(chosen)
        handlers = {
            Phase.AGE: self.age_chosen,
            Phase.PARENTAL: self.parental_chosen,
            Phase.CONSENT: self.consent_chosen,
            Phase.CITY: self.city_chosen,
            Phase.NEIGHBOURHOOD: self.neighbourhood_chosen,
            Phase.ELSEWHERE: self.elsewhere_chosen,
        }
        handlers[phase](chosen.id)

    def typed_onboarding_option(self, text: str, options: list[Option]) -> Option | None:
        """The option a typed answer gives; None after asking again or asking which was meant."""
        phase = self.onboarding_phase
        if phase is Phase.AGE:
            return self.typed_age(text, options)
        if phase in {Phase.CONSENT, Phase.PARENTAL, Phase.ELSEWHERE}:
            return self.typed_yes_no(text, options)
        reading = self.reading(text, options)
        if reading.sure and len(reading.chosen) == 1:
            return next(o for o in options if o.id == reading.chosen[0])
        if reading.chosen:
            self.ask_which([o for o in options if o.id in reading.chosen])
        else:
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))
        return None

    def typed_age(self, text: str, options: list[Option]) -> Option | None:
        # A typed label ('15-17', '25 ans ou plus') is the button; a lone digit is an age, never
        # a button's position: '1' is not 'Under 13'.
        exact = read_choice(text, options, positions=False)
        if exact.clear and len(exact.chosen) == 1 and normalize(text) in {
                normalize(self.option_label(o)) for o in options}:
            return next(o for o in options if o.id == exact.chosen[0])
        ages = possible_ages(text, self.inbound.now)
        bands = list(dict.fromkeys(self.age_option(age) for age in ages))
        if len(bands) == 1:
            return next(o for o in options if o.id == bands[0])
        if bands:
            self.ask_which([o for o in options if o.id in bands])
        else:
            self.invalid(self.tr(texts.AGE_UNCLEAR))
        return None

    def age_option(self, age: int) -> str:
        community = self.ctx.community
        if age < community.min_age:
            return UNDER
        if age > community.max_age:
            return OVER
        band = community.band_for_age(age)
        return band.id if band else OVER

    def typed_yes_no(self, text: str, options: list[Option]) -> Option | None:
        """Consent and the steps like it move on only on an unambiguous yes or no."""
        answer = yes_or_no(text, normalize(text).split())
        if answer in {Answer.YES, Answer.NO}:
            return next(o for o in options if o.id == answer.value)
        if answer is Answer.QUESTION and self.onboarding_phase is Phase.CONSENT:
            self.emit(EventType.INPUT_REJECTED, reason="question")
            self.say(self.tr(texts.CONSENT_ANSWER) + "\n\n" + self.privacy_notice())
            self.repeat()
        else:
            self.invalid(self.tr(texts.YES_OR_NO))
        return None

    def ask_which(self, candidates: list[Option]) -> None:
        """Not sure which option was meant: offer the candidates as buttons."""
        self.emit(EventType.INPUT_REJECTED, reason="unsure")
        labels = [self.quoted(self.option_label(o)) for o in candidates]
        self.say(self.tr(texts.DO_YOU_MEAN, choices=self.or_list(labels)),
                 self.onboarding_choices(candidates))

    def age_chosen(self, band_id: str) -> None:
        if band_id in {UNDER, OVER}:
            # Only children are cooled down: someone too old is not at risk of trying again.
            self.emit(EventType.NOT_ELIGIBLE, reason="age", age=band_id, cooldown=band_id == UNDER)
            self.say(self.tr("YouthVoice is for people aged {low} to {high}, so we can't ask you "
                             "our questions. We have kept nothing about you. Thanks for stopping by!",
                             low=self.ctx.community.min_age, high=self.ctx.community.max_age))
            self.state = ConversationState(language=self.state.language)
            return
        community = self.ctx.community
        old = community.band(self.state.age_band)
        self.update(age_band=band_id)
        band = community.band(band_id)
        if self.editing:
            city = community.city(self.state.city)
            needs_parent = band is not None and band.min < community.consent_age(city)
            self.emit(EventType.PROFILE_UPDATED, age_band=band_id)
            self.changed(texts.YOUR_AGE_BAND, old.id if old else "—", band_id)
            parent_asked = old is not None and old.min < community.consent_age(city)
            if needs_parent and not parent_asked:
                self.edit(Phase.PARENTAL)
            else:
                self.finish_edit()
            return
        youngest = band.min if band is not None else community.min_age
        low, high = community.consent_age_range()
        if youngest >= high:
            self.enter(Phase.CONSENT)
        elif youngest < low:
            self.under_consent_age(low)
        else:
            # Old enough in some countries and not in others: where they live decides, so the
            # city comes first (kept in the conversation only until they consent).
            self.update(city_before_consent=True)
            self.enter(Phase.CITY)

    def under_consent_age(self, age: int) -> None:
        """Under the age of digital consent: the partner's choice of path (config.yml)."""
        if self.ctx.community.under_age == "decline":
            self.emit(EventType.NOT_ELIGIBLE, reason="consent_age", cooldown=True)
            self.say(self.tr("Because you are under {age}, we can't ask you our questions without "
                             "a parent or guardian, and we don't collect that here. We have kept "
                             "nothing about you. Thanks for stopping by!", age=age))
            self.state = ConversationState(language=self.state.language)
            return
        self.update(consent_age=age)
        self.enter(Phase.PARENTAL)

    def parental_chosen(self, value: str) -> None:
        if value != "yes":
            self.emit(EventType.NOT_ELIGIBLE, reason="parental_consent")
            self.say(self.tr("No problem. Talk about it with a parent or guardian, then send "
                             "/start when they agree. We have kept nothing about you."))
            self.state = ConversationState(language=self.state.language)
            return
        self.emit(EventType.CONSENT_GIVEN, kind="parental", age_band=self.state.age_band,
                  notice_version=self.ctx.community.notice_version)
        if self.editing:
            self.finish_edit()
        else:
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
        if self.state.city_before_consent:
            self.update(city_before_consent=False)
            self.emit(EventType.PROFILE_UPDATED, city=self.state.city, neighbourhood=None)
            self.after_city(self.state.city or OTHER_CITY)
        else:
            self.enter(Phase.CITY)

    def city_chosen(self, city_id: str) -> None:
        old = self.state.city
        self.update(city=city_id, elsewhere_ok=False, neighbourhood=None)
        city = self.ctx.community.city(city_id)
        if self.state.city_before_consent and not self.editing:
            # Nothing is stored before consent: the city waits in the conversation.
            band = self.ctx.community.band(self.state.age_band)
            age = self.ctx.community.consent_age(city)
            if band is not None and band.min < age:
                self.under_consent_age(age)
            else:
                self.enter(Phase.CONSENT)
            return
        self.emit(EventType.PROFILE_UPDATED, city=city_id, neighbourhood=None)
        if self.editing:
            self.changed(texts.YOUR_CITY, self.city_label(old), self.city_label(city_id))
            if city is not None:
                self.say(self.tr(texts.NOW_GOES_TO, council=self.council()))
            if city_id == OTHER_CITY:
                self.edit(Phase.ELSEWHERE)
            elif city is not None and city.neighbourhoods:
                self.edit(Phase.NEIGHBOURHOOD)
            else:
                self.finish_edit()
        else:
            self.after_city(city_id)

    def after_city(self, city_id: str) -> None:
        city = self.ctx.community.city(city_id)
        if city_id == OTHER_CITY:
            # No council hears a city we do not work with: they decide, knowing it.
            self.enter(Phase.ELSEWHERE)
        elif city is None or not city.neighbourhoods:
            self.finish_onboarding()
        else:
            self.enter(Phase.NEIGHBOURHOOD)

    def elsewhere_chosen(self, value: str) -> None:
        if value == "yes":
            self.update(elsewhere_ok=True)
            if self.editing:
                self.finish_edit()
            else:
                self.finish_onboarding()
            return
        if self.editing:
            self.update(profile_edit=None, campaign=None, campaign_version=None, question=None,
                        history=(), answers={}, selection=(), comment=None)
        self.update(phase=Phase.IDLE, invalid_count=0)
        self.say(self.tr(texts.ELSEWHERE_DECLINED))

    def neighbourhood_chosen(self, place_id: str) -> None:
        old = self.state.neighbourhood
        self.update(neighbourhood=None if place_id == UNSAID else place_id)
        self.emit(EventType.PROFILE_UPDATED, neighbourhood=self.state.neighbourhood)
        if self.editing:
            # Right after a change of city there was no neighbourhood in this one.
            self.changed(texts.YOUR_NEIGHBOURHOOD, self.place_label(old) if old else None,
                         self.place_label(self.state.neighbourhood))
            self.finish_edit()
        else:
            self.finish_onboarding()

    def finish_onboarding(self) -> None:
        self.emit(EventType.ONBOARDING_COMPLETED)
        self.update(phase=Phase.IDLE, invalid_count=0)
        if self.ctx.community.city(self.state.city) is not None:
            self.say(self.tr(texts.ALL_SET, council=self.council()))
        else:
            self.say(self.tr("Thanks, you're all set!"))
        self.next_campaign()

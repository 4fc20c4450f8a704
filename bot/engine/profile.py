"""/profile: change the age band, city or neighbourhood given at onboarding, and be told what changed.

The onboarding steps are asked again on top of wherever the participant is; when the change is
done, the conversation goes back to where it was. Answers already given keep the profile they were
given with.
"""

from __future__ import annotations

from bot.engine import callbacks, texts
from bot.engine.community import OTHER_CITY
from bot.engine.matching import read_choice
from bot.engine.messages import Choice
from bot.engine.state import Phase
from bot.engine.survey import Option
from bot.engine.turn import TurnBase

MENU = "menu"
# Where a profile can be changed: after consent, once the city is asked.
EDITABLE_FROM = frozenset({Phase.CITY, Phase.NEIGHBOURHOOD, Phase.ELSEWHERE, Phase.SURVEY,
                           Phase.IDLE})
DONE = "done"


class Profile(TurnBase):
    def profile_menu(self) -> None:
        if self.state.phase not in EDITABLE_FROM:
            self.say(self.tr(texts.PROFILE_NOT_YET))
            self.repeat()
            return
        self.update(profile_edit=MENU, invalid_count=0)
        self.say(self.tr(texts.PROFILE_SHOWN, band=self.state.age_band or "—",
                         city=self.city_label(), place=self.place_label(self.state.neighbourhood)),
                 [Choice(o.label.in_(self.lang), callbacks.encode(callbacks.ONBOARDING, MENU, o.id))
                  for o in self.menu_options()])

    def menu_options(self) -> list[Option]:
        options = [Option(Phase.AGE.value, self.both("My age")),
                   Option(Phase.CITY.value, self.both("My city"))]
        city = self.ctx.community.city(self.state.city)
        if city is not None and city.neighbourhoods:
            options.append(Option(Phase.NEIGHBOURHOOD.value, self.both("My neighbourhood")))
        options.append(Option(DONE, self.both("Nothing, carry on"), ("rien", "nothing", "non", "no")))
        return options

    def menu_answer(self, value: str, *, pressed: bool) -> None:
        options = self.menu_options()
        if pressed:
            chosen = value if value in {o.id for o in options} else None
        else:
            reading = read_choice(value, options)
            chosen = reading.chosen[0] if len(reading.chosen) == 1 and not reading.negated else None
        if chosen is None:
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))
            return
        self.acknowledgement = next(o.label.in_(self.lang) for o in options if o.id == chosen)
        if chosen == DONE:
            self.finish_edit()
            return
        self.edit(Phase(chosen))

    def edit(self, phase: Phase) -> None:
        self.update(profile_edit=phase.value, invalid_count=0)
        self.ask_onboarding(first_time=True)

    def changed(self, what: str, old: str | None, new: str) -> None:
        if old is None:
            self.say(self.tr(texts.PROFILE_SET, what=self.tr(what), new=new))
        else:
            self.say(self.tr(texts.PROFILE_CHANGED, what=self.tr(what), old=old, new=new))

    def finish_edit(self) -> None:
        self.update(profile_edit=None, invalid_count=0)
        self.repeat()

    def city_label(self, city_id: str | None = None) -> str:
        city_id = city_id if city_id is not None else self.state.city
        city = self.ctx.community.city(city_id)
        if city is not None:
            return city.name.in_(self.lang)
        return self.tr("Another city") if city_id == OTHER_CITY else "—"

    def place_label(self, place_id: str | None) -> str:
        city = self.ctx.community.city(self.state.city)
        place = next((p for p in city.neighbourhoods if p.id == place_id), None) if city else None
        return place.name.in_(self.lang) if place else self.tr(texts.NOT_SAID)

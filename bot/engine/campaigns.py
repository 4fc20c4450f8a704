"""Which campaigns a participant is offered, when they run, and the invitation that announces one.

Pure: the service computes each campaign's opening and closing instants per city (time zones are
read outside the engine) and passes them in as a `Window`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.engine import callbacks
from bot.engine.messages import Choice, Outbound
from bot.engine.survey import Survey
from bot.engine.texts import N_, Catalog

# Invitation buttons: i:<campaign>:go starts it at once, i:<campaign>:later puts it off.
START = "go"
LATER = "later"
# Opening and closing instants of a participant whose city is not in the configuration.
ANY_CITY = ""

INVITATION = N_("New survey for you: “{title}”, {count} short questions. Would you like to "
                "answer now?")
REMINDER = N_("A reminder: the survey “{title}” is still open, and your view counts. Would you "
              "like to answer now?")
START_LABEL = N_("Start ▶")
LATER_LABEL = N_("Not now")
CLOSED = N_("Thank you, but this survey is closed now: answers are no longer collected.")


@dataclass(frozen=True)
class Window:
    """When a campaign is open in each city (UTC instants), and whether its partner closed it."""

    opens: Mapping[str, datetime] = field(default_factory=dict)
    closes: Mapping[str, datetime] = field(default_factory=dict)
    closed: bool = False

    def has_opened(self, city: str | None, now: datetime) -> bool:
        opens = self.opens.get(city or ANY_CITY, self.opens.get(ANY_CITY))
        return opens is None or now >= opens

    def has_closed(self, city: str | None, now: datetime) -> bool:
        if self.closed:
            return True
        closes = self.closes.get(city or ANY_CITY, self.closes.get(ANY_CITY))
        return closes is not None and now >= closes

    def is_open(self, city: str | None, now: datetime) -> bool:
        return self.has_opened(city, now) and not self.has_closed(city, now)


ALWAYS = Window()


def invitation(survey: Survey, language: str, catalog: Catalog, *, reminder: bool) -> Outbound:
    """The short message with Start and Not now buttons, in the participant's language."""
    template = catalog.gettext(language, REMINDER if reminder else INVITATION)
    text = template.format(title=survey.title.in_(language), count=len(survey.questions))
    return Outbound(text, (
        Choice(catalog.gettext(language, START_LABEL), callbacks.encode(callbacks.INVITE, survey.id, START)),
        Choice(catalog.gettext(language, LATER_LABEL), callbacks.encode(callbacks.INVITE, survey.id, LATER)),
    ))

"""When a published campaign opens (its invitations go out) and closes, set after publishing.

The console's schedule form and `youthvoice campaign schedule` both call `reschedule`, which checks
the times, stores them over the file's, and records who changed what. Times are local wall-clock
times, as in campaign files: "opens 2026-12-01 09:00" is 09:00 in Lyon for Lyon and 09:00 in
Montréal for Montréal. The running bot's broadcaster sends the invitations when a city's opening
time comes, never in its quiet hours (they go out when those end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot.campaigns import PublishError, local_day, with_schedule, zone_of
from bot.config import AppConfig
from bot.engine.survey import Survey
from bot.engine.texts import N_
from bot.schedule import local_to_utc, next_allowed
from storage import campaign_store as store
from storage import staff_repository as staff
from storage.models import Invitation, Participation

TIME_FORMAT = "%Y-%m-%d %H:%M"


class ScheduleError(PublishError):
    """A schedule that cannot be set; one sentence for the partner (`in_` says it in their language).
    Nothing was changed."""


@dataclass(frozen=True)
class CityTimes:
    """One city's schedule as instants (UTC), and when its invitations really go out."""

    city: str
    zone: str
    opens: datetime | None
    closes: datetime | None
    # The opening time, or the end of the city's quiet hours when it opens during them; None when
    # the campaign is closed or ends before anything can go out.
    first_send: datetime | None
    # It opens during the city's quiet hours: the invitations wait for their end.
    after_quiet_hours: bool = False


@dataclass(frozen=True)
class Planned:
    campaign_id: str
    # Local wall-clock times (None: opens at once / no end).
    opens: datetime | None
    closes: datetime | None
    cities: tuple[CityTimes, ...]
    # Whether invitations already went out (or someone started): the opening time is then history.
    started: bool


def parse_local(text: str, field: str) -> datetime | None:
    """A local time as a partner writes it ("2026-12-01 09:00", or the browser's "2026-12-01T09:00");
    empty means none."""
    text = text.strip()
    if not text:
        return None
    for form in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ScheduleError(N_("“{text}” is not a date and time for {field}: write it like 2026-12-01 09:00."),
                        text=text, field=field)


def cities_of(config: AppConfig, survey: Survey) -> tuple[str, ...]:
    return survey.audience.cities or tuple(c.id for c in config.cities)


def has_started(session: Session, campaign_id: str) -> bool:
    """Invitations were queued or someone started: moving the opening time would rewrite history."""
    return bool(session.scalar(select(
        exists().where(Invitation.campaign_id == campaign_id, Invitation.kind == "invitation")
        | exists().where(Participation.campaign_id == campaign_id))))


def plan_of(session: Session, config: AppConfig, survey: Survey, run: store.RunInfo,
            now: datetime) -> Planned:
    """What the campaign's schedule means in each city, for the status page and the command line."""
    current = with_schedule(survey, run)
    opens, closes = current.schedule.opens, current.schedule.closes
    times = []
    for city in cities_of(config, survey):
        zone = zone_of(config, city)
        opening = local_to_utc(opens, zone) if opens is not None else None
        closing = local_to_utc(closes, zone) if closes is not None else None
        start = max(opening or now, now)
        first = next_allowed(start, zone, config.quiet_hours_of(city).span())
        over = run.closed_at is not None or (closing is not None and first >= closing)
        times.append(CityTimes(city, zone.key, opening, closing, None if over else first,
                               not over and first > start))
    return Planned(run.campaign_id, opens, closes, tuple(times), has_started(session, run.campaign_id))


def reschedule(session: Session, config: AppConfig, survey: Survey, opens: datetime | None,
               closes: datetime | None, now: datetime, *, actor: str,
               partner_id: str | None = None) -> Planned:
    """Set when the campaign opens and closes; raises ScheduleError (changing nothing) when it cannot.

    `survey` is the campaign's current version; `partner_id`, when given, must be its partner's.
    """
    run = store.run(session, survey.id, lock=True)
    if run is None:
        raise ScheduleError(N_("There is no campaign {campaign}."), campaign=repr(survey.id))
    if partner_id is not None and run.partner_id != partner_id:
        raise ScheduleError(N_("The campaign {campaign} was not published by {partner}: only its partner "
                               "may schedule it."), campaign=repr(survey.id), partner=partner_id)
    if run.closed_at is not None:
        raise ScheduleError(N_("The campaign {campaign} was closed on {date}: it cannot open again. "
                               "Publish a new campaign with another id."),
                            campaign=repr(survey.id), date=local_day(config, survey, run.closed_at))
    if opens is not None and closes is not None and closes <= opens:
        raise ScheduleError(N_("The closing time {closes} comes before the opening time {opens}: "
                               "a campaign closes after it opens."),
                            closes=closes.strftime(TIME_FORMAT), opens=opens.strftime(TIME_FORMAT))
    cities = cities_of(config, survey)
    zones: dict[str, ZoneInfo] = {city: zone_of(config, city) for city in cities}
    if closes is not None:
        past = [city for city in cities if local_to_utc(closes, zones[city]) <= now]
        if past:
            raise ScheduleError(N_("The closing time {date} is already past in {cities}: choose a later "
                                   "time."), date=closes.strftime(TIME_FORMAT), cities=", ".join(past))
    before = with_schedule(survey, run).schedule
    current_opens = before.opens
    if opens != current_opens:
        if has_started(session, survey.id):
            raise ScheduleError(N_("Invitations for {campaign} have already gone out: its opening time "
                                   "cannot change any more, only its closing time."),
                                campaign=repr(survey.id))
        if opens is not None:
            past = [city for city in cities if local_to_utc(opens, zones[city]) < now]
            if past:
                raise ScheduleError(N_("The opening time {date} is already past in {cities}: choose a "
                                       "later time, or leave it empty to open now."),
                                    date=opens.strftime(TIME_FORMAT), cities=", ".join(past))
    store.set_schedule(session, survey.id, opens, closes, now)
    staff.audit(session, actor, "campaign_scheduled", survey.id, now,
                opens=opens.strftime(TIME_FORMAT) if opens else None,
                closes=closes.strftime(TIME_FORMAT) if closes else None,
                before={"opens": before.opens.strftime(TIME_FORMAT) if before.opens else None,
                        "closes": before.closes.strftime(TIME_FORMAT) if before.closes else None})
    updated = store.run(session, survey.id)
    assert updated is not None
    return plan_of(session, config, survey, updated, now)

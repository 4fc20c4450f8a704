"""Opening times, quiet hours and the reminder, with an injected clock, across time zones and DST."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.broadcast import Planner
from bot.campaigns import local_day, publish
from bot.config import load_config
from bot.engine.loader import load_survey
from bot.schedule import in_quiet_hours, next_allowed
from storage.models import Invitation, Participant, SurveyCompletion
from tests.support.deployment import campaign_text, seed_participants, write_deployment

PARIS = ZoneInfo("Europe/Paris")
MONTREAL = ZoneInfo("America/Toronto")
NIGHT = (time(21), time(8))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(("now", "zone", "expected"), [
    # The night before France moves to summer time: 08:00 the next morning is 06:00 UTC, not 07:00.
    (utc(2026, 3, 28, 21, 30), PARIS, utc(2026, 3, 29, 6, 0)),
    # After midnight, the same morning.
    (utc(2026, 3, 29, 1, 0), PARIS, utc(2026, 3, 29, 6, 0)),
    # The night France returns to winter time: 08:00 is 07:00 UTC.
    (utc(2026, 10, 24, 22, 0), PARIS, utc(2026, 10, 25, 7, 0)),
    # Daytime: at once.
    (utc(2026, 3, 29, 7, 0), PARIS, utc(2026, 3, 29, 7, 0)),
    # Montréal at 22:00 local (02:00 UTC) waits for 08:00 local, 12:00 UTC in summer time...
    (utc(2026, 7, 1, 2, 0), MONTREAL, utc(2026, 7, 1, 12, 0)),
    # ...and 13:00 UTC in winter, across its own DST change (1 November 2026).
    (utc(2026, 11, 1, 3, 0), MONTREAL, utc(2026, 11, 1, 13, 0)),
])
def test_quiet_hours_wait_for_the_local_morning(now: datetime, zone: ZoneInfo,
                                                expected: datetime) -> None:
    assert next_allowed(now, zone, NIGHT) == expected


def test_quiet_hours_within_a_day_and_none_at_all() -> None:
    lunch = (time(12), time(14))
    assert in_quiet_hours(utc(2026, 1, 5, 12, 30), PARIS, lunch)  # 13:30 in Paris
    assert not in_quiet_hours(utc(2026, 1, 5, 14, 0), PARIS, lunch)
    assert not in_quiet_hours(utc(2026, 1, 5, 23, 0), PARIS, (time(0), time(0)))


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                    timezones=st.just(UTC)),
       st.sampled_from([PARIS, MONTREAL, ZoneInfo("Europe/Brussels")]))
def test_the_time_chosen_is_never_in_quiet_hours_nor_more_than_a_night_away(now: datetime,
                                                                             zone: ZoneInfo) -> None:
    chosen = next_allowed(now, zone, NIGHT)
    assert chosen >= now
    assert not in_quiet_hours(chosen, zone, NIGHT)
    assert chosen - now <= timedelta(hours=12)


class Deployment:
    def __init__(self, app: App, clock: list[datetime]) -> None:
        self.app = app
        self.clock = clock
        self.planner = Planner(app.sessions, app.config, app.catalogue, lambda: clock[0])

    def publish(self, text: str) -> None:
        survey = load_survey(text, "c.yml", self.app.config.community())
        with self.app.sessions.begin() as session:
            publish(session, self.app.config, survey, text, "maison-des-jeunes", self.clock[0])
        self.app.catalogue.every = 0

    def queued(self) -> list[tuple[str, str, datetime]]:
        with self.app.sessions() as session:
            rows = session.execute(select(Participant.city, Invitation.kind, Invitation.due_at)
                                   .join(Participant).order_by(Invitation.id)).all()
        return [(r.city, r.kind, r.due_at) for r in rows]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    clock = [utc(2026, 3, 28, 12, 0)]
    config = write_deployment(tmp_path, seeds=False)
    text = re.sub(r"(partners:\n(?:  #.*\n)*  - id: maison-des-jeunes\n    name: .*\n)    cities: \[lyon\]",
                  r"\1    cities: [lyon, montreal]", config.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")
    app = build_app(config, f"sqlite:///{tmp_path / 'yv.db'}", clock=lambda: clock[0])
    seed_participants(app.sessions, 3, city="lyon")
    seed_participants(app.sessions, 2, city="montreal", neighbourhood="verdun", first_chat=800_000)
    yield Deployment(app, clock)
    app.close()


def test_a_campaign_opens_at_local_time_in_each_city_and_never_at_night(deployment: Deployment) -> None:
    deployment.publish(campaign_text(cities="lyon, montreal", extra="opens: 2026-03-29 09:00\n"))
    # 08:30 in Lyon (summer time since 02:00), 03:30 in Montréal: not open anywhere.
    deployment.clock[0] = utc(2026, 3, 29, 6, 30)
    assert deployment.planner.plan() == 0
    # 09:05 in Lyon: Lyon's three are due now; Montréal's campaign opens at 09:00 its time.
    deployment.clock[0] = utc(2026, 3, 29, 7, 5)
    assert deployment.planner.plan() == 3
    assert {(city, due) for city, _, due in deployment.queued()} == {("lyon", utc(2026, 3, 29, 7, 5))}
    deployment.clock[0] = utc(2026, 3, 29, 13, 0)  # 09:00 in Montréal (EDT, UTC-4)
    assert deployment.planner.plan() == 2
    assert deployment.planner.plan() == 0  # planning again adds no one


def test_published_in_the_evening_it_waits_for_each_citys_morning(deployment: Deployment) -> None:
    deployment.clock[0] = utc(2026, 3, 28, 21, 0)  # 22:00 in Lyon, 17:00 in Montréal
    deployment.publish(campaign_text(cities="lyon, montreal"))
    assert deployment.planner.plan() == 5
    due = {city: due for city, _, due in deployment.queued()}
    assert due == {"lyon": utc(2026, 3, 29, 6, 0), "montreal": utc(2026, 3, 28, 21, 0)}


def test_the_reminder_goes_once_to_those_invited_who_did_not_finish(deployment: Deployment) -> None:
    deployment.publish(campaign_text(extra="reminder: 2 days\n"))
    deployment.planner.plan()
    with deployment.app.sessions.begin() as session:
        session.execute(update(Invitation).values(status="sent",
                                                             sent_at=deployment.clock[0]))
        finished, stopped = session.scalars(select(Participant.id).where(Participant.city == "lyon")
                                            .order_by(Participant.id)).all()[:2]
        session.add(SurveyCompletion(participant_id=finished, campaign_id="quartier",
                                     campaign_version=1, completed_at=deployment.clock[0]))
        session.execute(update(Participant).where(Participant.id == stopped)
                        .values(stopped_at=deployment.clock[0]))
    deployment.clock[0] += timedelta(days=1)
    assert deployment.planner.plan() == 0
    deployment.clock[0] += timedelta(days=1, minutes=1)
    assert deployment.planner.plan() == 1
    deployment.clock[0] += timedelta(days=3)
    assert deployment.planner.plan() == 0
    assert [kind for _, kind, _ in deployment.queued()].count("reminder") == 1


def test_a_refusal_names_the_day_of_the_campaigns_city() -> None:
    """Closed at 02:00 UTC on 2 June: still 1 June, 22:00, in Montréal; already 2 June in Lyon."""
    config = load_config(Path(__file__).resolve().parents[2] / "config.yml")
    montreal = load_survey(campaign_text(cities="montreal"))
    lyon = load_survey(campaign_text(cities="lyon"))
    assert local_day(config, montreal, utc(2026, 6, 2, 2, 0)) == "2026-06-01"
    assert local_day(config, montreal, datetime(2026, 6, 2, 2, 0)) == "2026-06-01"  # naive: UTC
    assert local_day(config, lyon, utc(2026, 6, 2, 2, 0)) == "2026-06-02"

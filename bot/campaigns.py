"""Campaigns between files and the database: reading, seeding, publishing, and what workers offer.

The database holds every published version (the file's text as it was checked); config.yml's
`campaigns` only seed a fresh install. Workers rebuild what they offer from the database whenever
something was published or closed, so a new version reaches every worker without a restart.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.engine.campaigns import ANY_CITY, Window
from bot.engine.community import Community
from bot.engine.loader import Problem, SurveyError, load_survey, problem
from bot.engine.survey import Survey
from bot.engine.texts import N_, Catalog
from bot.schedule import local_to_utc
from storage import campaign_store as store

log = logging.getLogger(__name__)

# How often a worker asks whether campaigns changed: well within the minute promised to partners.
REFRESH_EVERY = 20.0


NOT_UTF8 = N_("this line is not UTF-8 text (an accent saved in another encoding?): save the file as "
              "UTF-8 (in most editors: Save as, Encoding: UTF-8)")


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SurveyError([problem(str(path), 0, "(file)", N_("cannot read: {reason}"),
                                   reason=exc.strerror or "")]) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise SurveyError([problem(str(path), line, "(file)", NOT_UTF8)]) from exc


def read_survey(path: Path, community: Community | None = None) -> Survey:
    return load_survey(read_source(path), str(path), community)


def read_campaigns(paths: list[str], base: Path,
                   community: Community | None = None) -> list[tuple[Survey, str]]:
    """Every campaign named in the configuration, with its text; all problems of all files at once."""
    found: list[tuple[Survey, str]] = []
    problems: list[Problem] = []
    for name in paths:
        try:
            source = read_source(base / name)
            found.append((load_survey(source, str(base / name), community), source))
        except SurveyError as exc:
            problems.extend(exc.problems)
    ids = [s.id for s, _ in found]
    for survey, _ in found:
        if ids.count(survey.id) > 1:
            problems.append(Problem(survey.id, 0, "id", "two campaign files share this id"))
            break
    if problems:
        raise SurveyError(problems)
    return found


def definition_of(survey: Survey) -> dict[str, Any]:
    """The campaign as JSON beside its answers (dates and delays as text)."""
    data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(survey), default=str))
    return data


def seed_campaigns(session: Session, seeds: Iterable[tuple[Survey, str]], now: datetime) -> None:
    """Store config.yml's campaigns the first time; an edited file never stops start-up.

    An (id, version) is immutable once stored, since answers refer to it. A seed file edited since
    is not a new version: the stored one stays in use, and the log says how to publish the edit.
    """
    for position, (survey, source) in enumerate(seeds):
        current = store.run(session, survey.id)
        if current is not None:
            stored = store.stored_version(session, survey.id, current.version)
            if stored is not None and stored.source_hash != survey.source_hash:
                log.warning(
                    "campaign %s: the file differs from version %d in use, which stays in use; "
                    "to offer the edit, run: youthvoice campaign publish FILE --partner ID",
                    survey.id, current.version)
            continue
        version = survey.version
        stored = store.stored_version(session, survey.id, version)
        if stored is None or stored.source is None or stored.source_hash != survey.source_hash:
            if stored is not None:
                # Stored before sources were kept, or with other content: a version of its own.
                version = (store.highest_version(session, survey.id) or 0) + 1
            store.store_version(session, survey.id, version, definition_of(survey),
                                survey.source_hash, source, None, now)
        store.set_run(session, survey.id, version, None, broadcast=False, now=now, position=position)


# Publishing


class PublishError(Exception):
    """A publish that must not happen; the message is one sentence for the partner, in English
    (`in_` says it in their language)."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template.format(**values))
        self.template = template
        self.values = values

    def in_(self, catalog: Catalog, language: str) -> str:
        return catalog.gettext(language, self.template).format(**self.values)


@dataclass(frozen=True)
class Times:
    """When a campaign opens and closes (local wall-clock times; None: at once / no end), and where
    those times come from: `file`, `schedule` (set after an earlier publish, in the console or with
    `youthvoice campaign schedule`) or `chosen` (in the console, beside Publish)."""

    opens: datetime | None
    closes: datetime | None
    source: str


@dataclass(frozen=True)
class Published:
    campaign_id: str
    version: int
    # The file's own `version`, when the stored one had to differ from it.
    file_version: int
    # The times the campaign follows from now on (`chosen` ones are the caller's to store).
    schedule: Times


PAST_CLOSING = {
    "file": N_("The closing time {date} written in the campaign file is already past in {cities}: "
               "choose a later time."),
    "replacing": N_("The closing time {date} written in the campaign file is already past in {cities}: "
                    "choose a later time. The file's times changed since the last version, so they "
                    "replace the schedule set in the console."),
    "schedule": N_("The closing time {date} set in the console's schedule is already past in {cities}: "
                   "set a later closing time in the console (or with `youthvoice campaign schedule`), "
                   "then publish again."),
    "chosen": N_("The closing time {date} chosen in the console is already past in {cities}: choose a "
                 "later time."),
}


def times_after_publish(session: Session, survey: Survey, partner_id: str) -> Times:
    """The times this file would follow once published by this partner: the schedule set after the
    last publish while the file keeps the times of the version it replaces, else the file's."""
    current = store.run(session, survey.id)
    if current is None or current.partner_id not in (None, partner_id):
        return Times(survey.schedule.opens, survey.schedule.closes, "file")
    return _times_after_publish(session, survey, current)


def _times_after_publish(session: Session, survey: Survey, current: store.RunInfo | None) -> Times:
    if current is not None and current.scheduled_at is not None and current.closed_at is None \
            and not _file_times_changed(session, survey, current):
        return Times(current.opens_local, current.closes_local, "schedule")
    return Times(survey.schedule.opens, survey.schedule.closes, "file")


def _file_times_changed(session: Session, survey: Survey, current: store.RunInfo) -> bool:
    return _file_times(survey) != _file_times_of(
        store.stored_definition(session, survey.id, current.version))


def publish(session: Session, config: AppConfig, survey: Survey, source: str, partner_id: str,
            now: datetime, chosen: tuple[datetime | None, datetime | None] | None = None) -> Published:
    """Store the file as the campaign's next version. `chosen`: the opening and closing times the
    partner set beside Publish (the caller stores them when they differ from those that apply);
    the closing time that will apply must not be past."""
    partner = config.partner(partner_id)
    if partner is None:
        known = ", ".join(p.id for p in config.partners) or "none yet"
        raise PublishError(N_("There is no partner {partner} in config.yml (partners: {known})."),
                           partner=repr(partner_id), known=known)
    cities = survey.audience.cities
    if not cities:
        raise PublishError(
            N_("This campaign targets no city: add a line like `cities: [{city}]` to say whose young "
               "people it is for."), city=partner.cities[0])
    outside = [c for c in cities if c not in partner.cities]
    if outside:
        raise PublishError(
            N_("{partner} may publish for {cities} only, and this campaign targets {outside}."),
            partner=partner.name, cities=", ".join(partner.cities), outside=", ".join(outside))
    current = store.run(session, survey.id, lock=True)
    if current is not None:
        if current.partner_id is not None and current.partner_id != partner_id:
            raise PublishError(N_("The campaign {campaign} belongs to another partner ({owner}): "
                                  "give yours another id."),
                               campaign=repr(survey.id), owner=current.partner_id)
        if current.closed_at is not None:
            raise PublishError(N_("The campaign {campaign} was closed on {date}: give a new campaign "
                                  "another id."),
                               campaign=repr(survey.id), date=local_day(config, survey, current.closed_at))
    times = _times_after_publish(session, survey, current)
    if chosen is not None and chosen != (times.opens, times.closes):
        times = Times(chosen[0], chosen[1], "chosen")
    if times.closes is not None:
        past = [c for c in cities if local_to_utc(times.closes, zone_of(config, c)) <= now]
        if past:
            replacing = (times.source == "file" and current is not None
                         and current.scheduled_at is not None)
            raise PublishError(PAST_CLOSING["replacing" if replacing else times.source],
                               date=f"{times.closes:%Y-%m-%d %H:%M}", cities=", ".join(past))
    if current is not None:
        stored = store.stored_version(session, survey.id, current.version)
        if stored is not None and stored.source_hash == survey.source_hash:
            raise PublishError(N_("Nothing changed since version {version}: nothing was published."),
                               version=current.version)
        if current.scheduled_at is not None and _file_times_changed(session, survey, current):
            # The new file says new times: they win over those set after the last publish.
            store.clear_schedule(session, survey.id)
    version = max(survey.version, (store.highest_version(session, survey.id) or 0) + 1)
    store.store_version(session, survey.id, version, definition_of(dataclasses.replace(
        survey, version=version)), survey.source_hash, source, partner_id, now)
    store.set_run(session, survey.id, version, partner_id, broadcast=True, now=now)
    return Published(survey.id, version, survey.version, times)


def _file_times(survey: Survey) -> tuple[Any, Any]:
    return _file_times_of(definition_of(survey))


def _file_times_of(definition: dict[str, Any] | None) -> tuple[Any, Any]:
    schedule = (definition or {}).get("schedule") or {}
    return schedule.get("opens"), schedule.get("closes")


def with_schedule(survey: Survey, run: store.RunInfo) -> Survey:
    """The campaign with the times set after publishing (console, `campaign schedule`), when there
    are some, over the file's."""
    if run.scheduled_at is None:
        return survey
    return dataclasses.replace(survey, schedule=dataclasses.replace(
        survey.schedule, opens=run.opens_local, closes=run.closes_local))


def zone_of(config: AppConfig, city_id: str) -> ZoneInfo:
    city = config.city(city_id)
    return ZoneInfo(city.timezone) if city is not None else ZoneInfo("UTC")


def local_day(config: AppConfig, survey: Survey, instant: datetime) -> str:
    """The day an instant (UTC; naive as the database may give it) fell on in the campaign's first
    city, as a refusal names it: a partner's days are local, not UTC."""
    city = (survey.audience.cities or tuple(c.id for c in config.cities))[0]
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone_of(config, city)):%Y-%m-%d}"


# What workers offer


@dataclass(frozen=True)
class Catalogue:
    campaigns: tuple[Survey, ...]
    versions: dict[tuple[str, int], Survey]
    windows: dict[str, Window]
    runs: dict[str, store.RunInfo]


def window_of(config: AppConfig, survey: Survey, closed: bool) -> Window:
    """The campaign's local opening and closing times as instants, city by city."""
    schedule = survey.schedule
    opens: dict[str, datetime] = {}
    closes: dict[str, datetime] = {}
    zones = {c.id: ZoneInfo(c.timezone) for c in config.cities} | {ANY_CITY: ZoneInfo("UTC")}
    for city, zone in zones.items():
        if schedule.opens is not None:
            opens[city] = local_to_utc(schedule.opens, zone)
        if schedule.closes is not None:
            closes[city] = local_to_utc(schedule.closes, zone)
    return Window(opens, closes, closed)


def load_catalogue(session: Session, config: AppConfig) -> Catalogue:
    versions: dict[tuple[str, int], Survey] = {}
    for stored in store.versions_with_source(session):
        assert stored.source is not None
        try:
            survey = load_survey(stored.source, f"{stored.campaign_id} v{stored.version}")
        except SurveyError as exc:
            log.error("stored campaign %s v%d no longer loads: %s", stored.campaign_id,
                      stored.version, exc)
            continue
        versions[(stored.campaign_id, stored.version)] = dataclasses.replace(survey,
                                                                             version=stored.version)
    offered: list[Survey] = []
    windows: dict[str, Window] = {}
    runs = {r.campaign_id: r for r in store.runs(session)}
    for current in runs.values():
        now_offered = versions.get((current.campaign_id, current.version))
        if now_offered is None:
            continue
        now_offered = with_schedule(now_offered, current)
        versions[(current.campaign_id, current.version)] = now_offered
        windows[now_offered.id] = window_of(config, now_offered, current.closed_at is not None)
        if current.closed_at is None:
            offered.append(now_offered)
    return Catalogue(tuple(offered), versions, windows, runs)


class LiveCatalogue:
    """The campaigns as last loaded, reloaded when the database says something changed."""

    def __init__(self, sessions: sessionmaker[Session], config: AppConfig, *,
                 every: float = REFRESH_EVERY, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.config = config
        self.every = every
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._signature: tuple[Any, ...] | None = None
        self.catalogue = Catalogue((), {}, {}, {})

    def current(self, *, check: bool = False, session: Session | None = None) -> Catalogue:
        """The catalogue, reloaded if something changed; a new object each time it is reloaded.

        `check` asks the database now rather than within `every` seconds (one small query).
        `session`: the caller's transaction to ask in, rather than a connection of its own.
        """
        with self._lock:
            now = self.monotonic()
            if not check and self._checked_at is not None and now - self._checked_at < self.every:
                return self.catalogue
            self._checked_at = now
            if session is not None:
                return self._reloaded(session)
            with self.sessions() as own:
                return self._reloaded(own)

    def _reloaded(self, session: Session) -> Catalogue:
        # With the lock held.
        signature = store.runs_signature(session)
        if signature != self._signature:
            self.catalogue = load_catalogue(session, self.config)
            self._signature = signature
        return self.catalogue

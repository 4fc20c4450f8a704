"""A partner's campaigns: the list with their live state, one campaign's status (the figures of
`youthvoice campaign status`, small groups hidden), publishing a checked file, sending the
invitations, closing, and the export. Each action calls what the command line calls."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from starlette.responses import Response
from starlette.routing import Route

from bot.broadcast import Planner, Progress
from bot.campaign_export import rows_for, write_csv, write_xlsx
from bot.campaign_schedule import Planned, ScheduleError, parse_local, plan_of, reschedule
from bot.campaigns import Catalogue, PublishError, publish
from bot.channels.telegram import CHANNEL
from bot.engine.loader import SurveyError, load_survey
from bot.engine.survey import LANGUAGES, Survey
from storage import campaign_reports as reports
from storage import campaign_store as store
from storage.campaign_reports import METRICS, Group
from storage.invitations import Audience
from web import status
from web.i18n import N_
from web.pages import NotFound, Page, page
from web.partner import check, partner_cities

METRIC_NAMES = {
    "targeted": N_("in the target"), "invited": N_("invited"),
    "failed": N_("failed"), "started": N_("started"), "completed": N_("completed"),
    "not_now": N_("not now"), "stopped": N_("stopped"), "reminded": N_("reminded"),
}
STATE_NAMES = {
    "closed": N_("closed"), "scheduled": N_("scheduled"), "ended": N_("ended"), "open": N_("open"),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Line:
    label: str
    counts: Counter[str]


@dataclass(frozen=True)
class Status:
    survey: Survey
    run: store.RunInfo
    state: str
    total: Counter[str]
    by_city: tuple[Line, ...]
    by_band: tuple[Line, ...]
    # The broadcast's messages not sent yet, by what they wait for.
    progress: Progress
    planned: Planned
    counted_at: datetime


def _catalogue(current: Page) -> Catalogue:
    # In the page's transaction: one connection per view, and what the page wrote is in it.
    return current.console.catalogue.current(session=current.db)


def state_of(current: Page, catalogue: Catalogue, run: store.RunInfo, survey: Survey) -> str:
    if run.closed_at is not None:
        return "closed"
    window = catalogue.windows.get(run.campaign_id)
    cities = survey.audience.cities or tuple(c.id for c in current.config.cities)
    if window is not None and not any(window.has_opened(c, current.now) for c in cities):
        return "scheduled"
    if window is not None and all(window.has_closed(c, current.now) for c in cities):
        return "ended"
    return "open"


def _own(current: Page, campaign_id: str) -> tuple[Catalogue, store.RunInfo, Survey]:
    """The partner's own campaign; another partner's is as good as missing."""
    assert current.user is not None
    catalogue = _catalogue(current)
    run = catalogue.runs.get(campaign_id)
    survey = catalogue.versions.get((campaign_id, run.version)) if run else None
    if run is None or survey is None or run.partner_id != current.user.partner_id:
        raise NotFound
    return catalogue, run, survey


def _audiences(survey: Survey) -> list[Audience]:
    audience = survey.audience
    return [Audience(city, audience.neighbourhoods, audience.age_bands, audience.languages)
            for city in audience.cities]


def _lines(groups: dict[Group, Counter[str]], index: int, names: dict[str, str]) -> tuple[Line, ...]:
    merged: dict[str, Counter[str]] = {}
    for group, counts in groups.items():
        merged.setdefault(names.get(group[index] or "", group[index] or "—"), Counter()).update(counts)
    return tuple(Line(label, counts) for label, counts in sorted(merged.items()))


@page("partner")
def campaign_list(current: Page) -> Response:
    assert current.user is not None
    catalogue = _catalogue(current)
    own = [(run, survey) for run in catalogue.runs.values()
           if (survey := catalogue.versions.get((run.campaign_id, run.version))) is not None
           and run.partner_id == current.user.partner_id]
    totals = reports.totals(current.db, [run.campaign_id for run, _ in own])
    rows = [(run, survey, state_of(current, catalogue, run, survey), totals[run.campaign_id])
            for run, survey in own]
    return current.render("campaigns.html", rows=rows, states=STATE_NAMES,
                          k=current.config.reporting.min_group_size)


def status_of(current: Page, campaign_id: str) -> Status:
    catalogue, run, survey = _own(current, campaign_id)
    audiences = _audiences(survey) if run.broadcast and run.closed_at is None else []
    figures = status.count(current.db, run.campaign_id, audiences, CHANNEL, current.now)
    groups = figures.groups
    total: Counter[str] = Counter()
    for counts in groups.values():
        total.update(counts)
    cities = {c.id: getattr(c.name, current.language) for c in current.config.cities}
    return Status(survey, run, state_of(current, catalogue, run, survey), total,
                  _lines(groups, 0, cities), _lines(groups, 1, {}), figures.progress,
                  plan_of(current.db, current.config, survey, run, current.now), figures.counted_at)


def _status_page(current: Page, status: int = 200, problem: str | None = None,
                 drafts: tuple[str, str] | None = None) -> Response:
    report = status_of(current, current.request.path_params["campaign_id"])
    notice = current.request.query_params.get("done") if status == 200 else None
    if drafts is None:
        drafts = (_local_field(report.planned.opens), _local_field(report.planned.closes))
    cities = {c.id: getattr(c.name, current.language) for c in current.config.cities}
    quiet = {c.city: current.config.quiet_hours_of(c.city) for c in report.planned.cities}
    return current.render("campaign_status.html", status=status, report=report, metrics=METRICS,
                          names=METRIC_NAMES, states=STATE_NAMES, k=current.config.reporting.min_group_size,
                          notice=notice, problem=problem, drafts=drafts, city_names=cities,
                          quiet=quiet)


def _local_field(moment: datetime | None) -> str:
    """A local time as the browser's date-and-time field wants it."""
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M")


@page("partner")
def campaign_status(current: Page) -> Response:
    return _status_page(current)


@page("partner")
def schedule(current: Page) -> Response:
    """Set when the campaign opens and closes: what `youthvoice campaign schedule` does."""
    assert current.user is not None
    _, run, survey = _own(current, current.request.path_params["campaign_id"])
    drafts = (current.field("opens"), current.field("closes"))
    try:
        opens = parse_local(drafts[0], current.tr("Opens"))
        closes = parse_local(drafts[1], current.tr("Closes"))
        reschedule(current.db, current.config, survey, opens, closes, current.now,
                   actor=current.user.email, partner_id=current.user.partner_id)
    except ScheduleError as exc:
        current.finish_transaction(commit=False)
        return _status_page(current, 400, current.said(exc), drafts)
    return current.redirect(f"/campaigns/{run.campaign_id}?done=scheduled")


@page("partner")
def publish_file(current: Page) -> Response:
    assert current.user is not None
    partner_cities(current)
    source = current.field("source").replace("\r\n", "\n")
    try:
        survey = load_survey(source, "campaign.yml", current.config.community())
        # Times chosen beside the Publish button (shown filled with those that apply): they count
        # for the checks, and are set in the same transaction when they differ from those, so
        # that nothing goes out at other times meanwhile.
        opens = parse_local(current.field("opens"), current.tr("Opens"))
        closes = parse_local(current.field("closes"), current.tr("Closes"))
        chosen = (opens, closes) if "opens" in (current.form or {}) else None
        published = publish(current.db, current.config, survey, source, current.user.partner_id or "",
                            current.now, chosen)
        current.audit("campaign_published", survey.id, version=published.version)
        if published.schedule.source == "chosen":
            reschedule(current.db, current.config, survey, opens, closes, current.now,
                       actor=current.user.email, partner_id=current.user.partner_id)
    except SurveyError:
        return current.redirect("/campaigns/check")
    except PublishError as exc:
        current.finish_transaction(commit=False)
        checked = check(source, "campaign.yml", current.config.community())
        return current.render("campaign_check.html", status=400, checked=checked, problem=current.said(exc),
                              outside=[], languages=LANGUAGES,
                              drafts=(current.field("opens"), current.field("closes")))
    return current.redirect(f"/campaigns/{survey.id}?done=published")


@page("partner")
def send(current: Page) -> Response:
    catalogue, run, survey = _own(current, current.request.path_params["campaign_id"])
    if run.closed_at is not None or not run.broadcast:
        return current.redirect(f"/campaigns/{run.campaign_id}")
    if state_of(current, catalogue, run, survey) != "open":
        # Nothing can be queued before it opens (or after it ended): say so rather than "queued".
        return current.redirect(f"/campaigns/{run.campaign_id}?done=not_open")
    current.finish_transaction(commit=True)
    console = current.console
    added = Planner(console.sessions, current.config, console.catalogue, console.clock).plan(run.campaign_id)
    current.audit("campaign_sent", run.campaign_id, queued=added)
    return current.redirect(f"/campaigns/{run.campaign_id}?done=sent")


@page("partner")
def close(current: Page) -> Response:
    _, run, _survey = _own(current, current.request.path_params["campaign_id"])
    if store.close_run(current.db, run.campaign_id, current.now):
        current.audit("campaign_closed", run.campaign_id)
    return current.redirect(f"/campaigns/{run.campaign_id}?done=closed")


@page("partner")
def export(current: Page) -> Response:
    catalogue, run, _survey = _own(current, current.request.path_params["campaign_id"])
    kind = current.request.path_params["kind"]
    if kind not in {"csv", "notes.csv", "xlsx"}:
        raise NotFound
    versions = {v: s for (c, v), s in catalogue.versions.items() if c == run.campaign_id}
    rows = rows_for(reports.answers_of(current.db, run.campaign_id), versions, current.language)
    k = current.config.reporting.min_group_size
    with tempfile.TemporaryDirectory(prefix="youthvoice-export-") as folder:
        target = Path(folder) / f"{run.campaign_id}-answers.{'xlsx' if kind == 'xlsx' else 'csv'}"
        written = (write_xlsx if kind == "xlsx" else write_csv)(target, rows, k)
        chosen = written[1] if kind == "notes.csv" else written[0]
        body = chosen.read_bytes()
        name = chosen.name
    current.audit("campaign_exported", run.campaign_id, format=kind)
    return Response(body, media_type=XLSX if kind == "xlsx" else "text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


ROUTES = [
    Route("/campaigns", campaign_list, methods=["GET"]),
    Route("/campaigns/publish", publish_file, methods=["POST"]),
    Route("/campaigns/{campaign_id}", campaign_status, methods=["GET"]),
    Route("/campaigns/{campaign_id}/send", send, methods=["POST"]),
    Route("/campaigns/{campaign_id}/schedule", schedule, methods=["POST"]),
    Route("/campaigns/{campaign_id}/close", close, methods=["POST"]),
    Route("/campaigns/{campaign_id}/export.{kind}", export, methods=["GET"]),
]

"""`youthvoice campaign publish|list|status|close|send|export`: a partner's campaign from file to export.

Every refusal is one sentence that says what to do, and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import getpass
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from telegram import Bot

from bot.app import App, build_app
from bot.broadcast import Broadcaster, Planner, Progress, progress_of
from bot.campaign_export import rows_for, write_csv, write_xlsx
from bot.campaign_schedule import CityTimes, ScheduleError, parse_local, reschedule
from bot.campaign_status import status_report
from bot.campaigns import PublishError, publish, read_source
from bot.channels.console import interface_language
from bot.channels.telegram import CHANNEL
from bot.channels.telegram_broadcast import send_invitation
from bot.channels.telegram_http import AiohttpRequest
from bot.config import Secrets
from bot.engine.loader import SurveyError, load_survey
from bot.engine.survey import Survey
from bot.rate_budget import Limits, RateBudget, budget_key
from storage import campaign_reports as reports
from storage import campaign_store as store
from storage.invitations import Audience, count_eligible


class Refused(Exception):
    """The command cannot do what was asked; nothing was changed. Said in the partner's language."""


def register(actions: Any) -> None:
    publish_cmd = actions.add_parser(
        "publish", help="check a campaign file and publish it (a new version if it changed)")
    publish_cmd.add_argument("file", type=Path)
    publish_cmd.add_argument("--partner", required=True, help="your partner id in config.yml")
    add_language(publish_cmd)
    publish_cmd.set_defaults(func=cmd_publish)

    list_cmd = actions.add_parser("list", help="every campaign: version, partner, state, progress")
    list_cmd.set_defaults(func=cmd_list)

    status_cmd = actions.add_parser("status", help="a campaign's progress per city and age band")
    status_cmd.add_argument("campaign")
    status_cmd.set_defaults(func=cmd_status)

    close_cmd = actions.add_parser("close", help="close a campaign: late answers are thanked, not kept")
    close_cmd.add_argument("campaign")
    close_cmd.add_argument("--partner", default=None, help="your partner id (checked if given)")
    close_cmd.set_defaults(func=cmd_close)

    schedule_cmd = actions.add_parser(
        "schedule", help="set when a published campaign opens (its invitations go out) and closes")
    schedule_cmd.add_argument("campaign")
    schedule_cmd.add_argument("--opens", default=None,
                              help='local time in each city, like "2026-12-01 09:00"; "now" to open '
                                   "at once (default: unchanged)")
    schedule_cmd.add_argument("--closes", default=None,
                              help='local time in each city, like "2026-12-15 18:00"; "never" for no '
                                   "end (default: unchanged)")
    schedule_cmd.add_argument("--partner", default=None, help="your partner id (checked if given)")
    add_language(schedule_cmd)
    schedule_cmd.set_defaults(func=cmd_schedule)

    send_cmd = actions.add_parser("send", help="queue a campaign's invitations now; --wait sends them "
                                               "from here with a progress bar")
    send_cmd.add_argument("campaign")
    send_cmd.add_argument("--wait", action="store_true",
                          help="send from this terminal and show progress until all are sent")
    send_cmd.set_defaults(func=cmd_send)

    export_cmd = actions.add_parser("export", help="the answers, one row per participant and question")
    export_cmd.add_argument("campaign")
    export_cmd.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export_cmd.add_argument("--language", choices=["fr", "en"], default=None,
                            help="language of question texts and option labels (default: config.yml's)")
    export_cmd.add_argument("--output", type=Path, default=None,
                            help="the file to write (default: <campaign>-answers.<format>)")
    export_cmd.set_defaults(func=cmd_export)


def add_language(command: argparse.ArgumentParser) -> None:
    command.add_argument("--language", dest="messages", choices=["fr", "en"], default=None,
                         help="language of the messages (default: the terminal's)")


def partner_language(args: argparse.Namespace) -> str:
    """The partner's choice, else the terminal's language when it is French, else English."""
    chosen: str | None = getattr(args, "messages", None)
    if chosen is not None:
        return chosen
    return "fr" if (interface_language() or "").startswith("fr") else "en"


def _app(args: argparse.Namespace) -> App:
    return build_app(args.config, args.database)


def _current(app: App, campaign_id: str) -> tuple[store.RunInfo, Survey]:
    catalogue = app.catalogue.current()
    run = catalogue.runs.get(campaign_id)
    survey = catalogue.versions.get((campaign_id, run.version)) if run else None
    if run is None or survey is None:
        known = ", ".join(sorted(catalogue.runs)) or "none yet"
        raise Refused(f"There is no campaign {campaign_id!r} (campaigns: {known}).")
    return run, survey


def _state(app: App, run: store.RunInfo, survey: Survey) -> str:
    if run.closed_at is not None:
        return f"closed {run.closed_at:%Y-%m-%d %H:%M} UTC"
    now = app.service.clock()
    window = app.catalogue.catalogue.windows.get(run.campaign_id)
    cities = survey.audience.cities or tuple(c.id for c in app.config.cities)
    if window is not None and not any(window.has_opened(c, now) for c in cities):
        return f"opens {survey.schedule.opens:%Y-%m-%d %H:%M} local time"
    if window is not None and all(window.has_closed(c, now) for c in cities):
        return "ended"
    return "open" if run.broadcast else "open to everyone who talks to the bot"


def cmd_publish(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        source = read_source(args.file)
        try:
            survey = load_survey(source, str(args.file), app.config.community())
        except SurveyError as exc:
            for problem in exc.problems:
                print(problem.in_(app.service.catalog, partner_language(args)))
            count = len(exc.problems)
            print(f"{args.file}: {count} problem{'s' if count > 1 else ''}: nothing was published")
            return 1
        now = app.service.clock()
        try:
            with app.sessions.begin() as session:
                published = publish(session, app.config, survey, source, args.partner, now)
        except PublishError as exc:
            raise Refused(exc.in_(app.service.catalog, partner_language(args))) from exc
        with app.sessions() as session:
            targeted = sum(count_eligible(session, survey.id, _audience(survey, city), CHANNEL)
                           for city in survey.audience.cities)
        print(f"Published {survey.id} version {published.version} for {args.partner}.")
        if published.version != published.file_version:
            print(f"  (the file says version {published.file_version}; the next free number was used)")
        print(f"  for: {_describe_audience(app, survey)}")
        applied = published.schedule
        scheduled = dataclasses.replace(survey, schedule=dataclasses.replace(
            survey.schedule, opens=applied.opens, closes=applied.closes))
        print(f"  {_describe_schedule(app, scheduled)}")
        if applied.source == "schedule":
            print("  (the times set with `youthvoice campaign schedule` or in the console stay: the file "
                  "keeps the times of the version it replaces)")
        print(f"  {targeted} young people are in the target today.")
        print("The running bot offers it within a minute and sends the invitations (not at night).")
        print(f"To send them from here and watch: youthvoice campaign send {survey.id} --wait")
        return 0
    finally:
        app.close()


def _audience(survey: Survey, city: str) -> Audience:
    audience = survey.audience
    return Audience(city, audience.neighbourhoods, audience.age_bands, audience.languages)


def _describe_audience(app: App, survey: Survey) -> str:
    audience = survey.audience
    parts = [", ".join(audience.cities) or "every city"]
    if audience.neighbourhoods:
        parts.append("neighbourhoods " + ", ".join(audience.neighbourhoods))
    parts.append("age bands " + (", ".join(audience.age_bands) or "all"))
    parts.append("languages " + (", ".join(audience.languages) or "French and English"))
    return "; ".join(parts)


def _describe_schedule(app: App, survey: Survey) -> str:
    schedule = survey.schedule
    opens = f"opens {schedule.opens:%Y-%m-%d %H:%M}" if schedule.opens else "opens now"
    closes = f"closes {schedule.closes:%Y-%m-%d %H:%M}" if schedule.closes else "no closing date"
    reminder = (f"one reminder {_delay(schedule.reminder_after.total_seconds())} after the invitation"
                if schedule.reminder_after else "no reminder")
    return f"{opens}, {closes} (local time in each city); {reminder}"


def _delay(seconds: float) -> str:
    hours = round(seconds / 3600)
    count, unit = (hours // 24, "day") if hours % 24 == 0 else (hours, "hour")
    return f"{count} {unit}{'s' if count != 1 else ''}"


def cmd_list(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        catalogue = app.catalogue.current()
        with app.sessions() as session:
            lines = [("campaign", "version", "partner", "state", "invited")]
            for run in catalogue.runs.values():
                survey = catalogue.versions.get((run.campaign_id, run.version))
                if survey is None:
                    continue
                counts = reports.progress_by_group(session, run.campaign_id, [], CHANNEL)
                invited = sum(c["invited"] for c in counts.values())
                lines.append((run.campaign_id, str(run.version), run.partner_id or "(config.yml)",
                              _state(app, run, survey), str(invited) if run.broadcast else "-"))
        widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
        for row in lines:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        return 0
    finally:
        app.close()


def cmd_status(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        run, survey = _current(app, args.campaign)
        audiences = [_audience(survey, c) for c in survey.audience.cities] if run.broadcast else []
        with app.sessions() as session:
            groups = reports.progress_by_group(session, run.campaign_id, audiences, CHANNEL)
        print(status_report(survey, run.version, run.partner_id, _state(app, run, survey), groups,
                            app.config.reporting.min_group_size,
                            _not_sent_yet(progress_of(app.sessions, run.campaign_id))))
        return 0
    finally:
        app.close()


def _not_sent_yet(progress: Progress) -> list[str]:
    """The messages still on their way, by what they wait for ("invited" counts only those
    Telegram took)."""
    parts = [f"{count} {what}" for count, what in (
        (progress.queued, "waiting to be sent"), (progress.sending, "being sent now"),
        (progress.telegram_limit, "waiting for Telegram's limit"),
        (progress.unreachable, "to try again (Telegram could not be reached)")) if count]
    return ["", "Not sent yet: " + ", ".join(parts) + "."] if parts else []


def cmd_close(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        run, _survey = _current(app, args.campaign)
        if args.partner is not None and run.partner_id != args.partner:
            raise Refused(f"The campaign {run.campaign_id!r} was not published by {args.partner}: "
                          "only its partner may close it.")
        with app.sessions.begin() as session:
            closed = store.close_run(session, run.campaign_id, app.service.clock())
        if not closed:
            raise Refused(f"The campaign {run.campaign_id!r} is already closed.")
        print(f"Closed {run.campaign_id}. No more invitations or reminders go out; young people "
              "who answer late are thanked and told it is closed. Answers so far are kept: "
              f"youthvoice campaign export {run.campaign_id}")
        return 0
    finally:
        app.close()


def cmd_schedule(args: argparse.Namespace) -> int:
    app = _app(args)
    language = partner_language(args)
    try:
        run, survey = _current(app, args.campaign)
        now = app.service.clock()
        try:
            opens = survey.schedule.opens if args.opens is None else (
                None if args.opens.strip().lower() == "now" else parse_local(args.opens, "--opens"))
            closes = survey.schedule.closes if args.closes is None else (
                None if args.closes.strip().lower() == "never" else parse_local(args.closes, "--closes"))
            with app.sessions.begin() as session:
                planned = reschedule(session, app.config, survey, opens, closes, now,
                                     actor=f"terminal:{getpass.getuser()}", partner_id=args.partner)
        except ScheduleError as exc:
            raise Refused(exc.in_(app.service.catalog, language)) from exc
        scheduled = dataclasses.replace(survey, schedule=dataclasses.replace(
            survey.schedule, opens=planned.opens, closes=planned.closes))
        print(f"Scheduled {run.campaign_id}: {_describe_schedule(app, scheduled)}")
        for city in planned.cities:
            if city.first_send is None:
                print(f"  {city.city}: no invitation goes out (it closes first)")
                continue
            first = city.first_send.astimezone(ZoneInfo(city.zone))
            print(f"  {city.city}: invitations go out from {first:%Y-%m-%d %H:%M} ({city.zone})"
                  f"{_quiet_note(city)}")
        return 0
    finally:
        app.close()


def _quiet_note(city: CityTimes) -> str:
    return ", when the quiet hours end" if city.after_quiet_hours else ""


def cmd_send(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        run, _survey = _current(app, args.campaign)
        if run.closed_at is not None:
            raise Refused(f"The campaign {run.campaign_id!r} is closed: nothing is sent.")
        if not run.broadcast:
            raise Refused(f"The campaign {run.campaign_id!r} comes from config.yml and is offered to "
                          "everyone who talks to the bot; publish it with `youthvoice campaign publish "
                          "FILE --partner ID` to send invitations.")
        secrets = Secrets()
        if args.wait and secrets.telegram_token is None:
            raise Refused("Sending from here needs TELEGRAM_BOT_TOKEN (the bot's token); without "
                          "--wait, the running bot sends the invitations.")
        planner = Planner(app.sessions, app.config, app.catalogue, app.service.clock)
        added = planner.plan(run.campaign_id)
        progress = progress_of(app.sessions, run.campaign_id)
        if not args.wait:
            print(f"{added} invitation(s) queued; {progress.waiting} waiting in all. The running bot "
                  "sends them (not at night); add --wait to send from here and watch.")
            return 0
        assert secrets.telegram_token is not None
        asyncio.run(_send_and_watch(app, planner, run.campaign_id, secrets.telegram_token,
                                    secrets.telegram_api_url, sys.stderr))
        final = progress_of(app.sessions, run.campaign_id).counts
        print(f"Done: {final.get('sent', 0)} sent, {final.get('failed', 0)} failed, "
              f"{final.get('blocked', 0)} blocked the bot, {final.get('dropped', 0)} "
              "not sent (stopped, started on their own, or closed).")
        return 0
    finally:
        app.close()


def shared_budget(app: App, token: str) -> RateBudget:
    """The token's one budget (replies first), at the deployment's configured rate."""
    return RateBudget(app.sessions, budget_key(token), Limits(per_second=app.config.broadcast.rate))


def telegram_broadcaster(app: App, planner: Planner, bot: Bot, budget: RateBudget) -> Broadcaster:
    """The broadcaster on Telegram: invitations go through a bot of their own without a limiter,
    because the slot is taken before the invitation is marked as sending, not after."""

    def stopped(address: str) -> None:
        app.service.mark_stopped(CHANNEL, address)

    return Broadcaster(planner, app.service.catalog, budget,
                       functools.partial(send_invitation, bot, budget), mark_stopped=stopped)


def invitation_bot(token: str, api_url: str | None) -> Bot:
    return Bot(token, request=AiohttpRequest(),
               base_url=f"{api_url.rstrip('/')}/bot" if api_url else "https://api.telegram.org/bot")


async def broadcast_forever(app: App, planner: Planner, token: str, api_url: str | None,
                            budget: RateBudget) -> None:
    """A worker's share of the broadcasting inside `youthvoice run`, until the bot stops."""
    async with invitation_bot(token, api_url) as bot:
        await telegram_broadcaster(app, planner, bot, budget).run()


async def _send_and_watch(app: App, planner: Planner, campaign_id: str, token: str,
                          api_url: str | None, out: TextIO) -> None:
    budget = shared_budget(app, token)
    try:
        async with invitation_bot(token, api_url) as bot:
            broadcaster = telegram_broadcaster(app, planner, bot, budget)
            bar = ProgressBar(out)
            bar.show(await asyncio.to_thread(progress_of, app.sessions, campaign_id), app.service.clock())
            while True:
                handled = await broadcaster.round(campaign_id)
                progress = await asyncio.to_thread(progress_of, app.sessions, campaign_id)
                bar.show(progress, app.service.clock())
                if handled:
                    continue
                if progress.waiting == 0:
                    break
                await asyncio.sleep(1.0)
            bar.finish()
    finally:
        await budget.aclose()


class ProgressBar:
    """sent / total, the rate over the last seconds, and the time left, on one line."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.samples: list[tuple[float, int]] = []

    def show(self, progress: Progress, now: datetime) -> None:
        moment = time.monotonic()
        self.samples = [(t, n) for t, n in self.samples if moment - t < 10] + [(moment, progress.done)]
        first_t, first_n = self.samples[0]
        rate = (progress.done - first_n) / (moment - first_t) if moment > first_t else 0.0
        total = max(progress.total, 1)
        filled = int(self.WIDTH * progress.done / total)
        if not progress.waiting:
            left = "all sent"
        elif rate > 0:
            left = f"{_duration(progress.waiting / rate)} left"
        elif progress.telegram_limit:
            left = f"{progress.telegram_limit} waiting for Telegram's limit"
        elif progress.unreachable:
            left = f"{progress.unreachable} to try again (Telegram could not be reached)"
        elif progress.waiting and progress.next_due is not None and progress.next_due > now:
            left = f"waiting until {progress.next_due:%H:%M} UTC (quiet hours)"
        else:
            left = "..."
        self.out.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {progress.done}/{progress.total} "
                       f"sent · {rate:.1f}/s · {left}   ")
        self.out.flush()

    def finish(self) -> None:
        self.out.write("\n")
        self.out.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def cmd_export(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        run, _survey = _current(app, args.campaign)
        catalogue = app.catalogue.current()
        versions = {v: s for (c, v), s in catalogue.versions.items() if c == run.campaign_id}
        language = args.language or app.config.default_language
        with app.sessions() as session:
            rows = rows_for(reports.answers_of(session, run.campaign_id), versions, language)
        output = args.output or Path(f"{run.campaign_id}-answers.{args.format}")
        k = app.config.reporting.min_group_size
        written = (write_xlsx if args.format == "xlsx" else write_csv)(output, rows, k)
        people = len({row[0] for row in rows})
        print(f"Wrote {len(rows)} answers of {people} participants to {', '.join(map(str, written))}.")
        print("Free text has personal details replaced ([phone], [name]...): still read it before "
              f"sharing. Groups under {k} people are listed in the notes.")
        return 0
    finally:
        app.close()


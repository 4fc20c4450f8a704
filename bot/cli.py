"""youthvoice: one entry point for running, chatting, checking campaigns and managing the database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot import campaign_cli
from bot.app import DEFAULT_CONFIG, build_app, digest_service, warn_about_safeguarding
from bot.broadcast import Planner
from bot.campaigns import read_survey
from bot.channels.console import ConsoleChat, interface_language
from bot.channels.spool import Spool
from bot.channels.telegram import Delivery, Merge, TelegramChannel, build_application
from bot.channels.telegram_intake import Webhook, serve
from bot.config import ConfigError, Secrets, load_config
from bot.engine.loader import SurveyError
from bot.i18n import CatalogMissingError, GettextCatalog
from bot.staff import Staff, UnknownAlertError
from bot.understanding import BACKFILL_BATCH, BackfillLoop, NluStarter, Understander, backfill
from digests.example import write_example
from digests.periods import Period, PeriodError, parse_period
from digests.service import DigestLoop, DigestService, UnknownCouncilError
from nlu import cli as nlu_cli
from nlu.client import SyncNluClient
from storage import campaign_store, council_replies, db, digest_store
from storage import repositories as repo
from web import cli as web_cli

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A council's answer is one Telegram message.
REPLY_LIMIT = 4096
NO_TOKEN = """\
YouthVoice needs a Telegram bot token to serve Telegram, and TELEGRAM_BOT_TOKEN is not set.

To get one: open Telegram, talk to @BotFather, send /newbot, pick a name and a username ending in
"bot", and copy the token it gives you. Then:

    export TELEGRAM_BOT_TOKEN=123456:ABC...
    youthvoice run                 # long polling
    youthvoice run --webhook ...   # behind a public HTTPS address (see README)

With a token, the bot answers young people on Telegram with the campaigns in config.yml and keeps
their answers in the database ({database}).

Meanwhile, try the same conversation in this terminal:

    youthvoice chat
"""


def main(argv: Sequence[str] | None = None) -> int:
    # Flood-control waits as timedelta: the form python-telegram-bot 22 recommends and will default to.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    parser = build_parser()
    args = parser.parse_args(argv)
    log_format = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if getattr(args, "func", None) is cmd_chat and not args.verbose:
        # The terminal is the chat: log lines go to a file, never between the bot's messages.
        args.log_file.parent.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=logging.WARNING, format=log_format, filename=args.log_file)
    else:
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format=log_format)
    try:
        handler = getattr(args, "func", None) or args.handler
        return int(handler(args))
    except (ConfigError, SurveyError, CatalogMissingError, PeriodError, UnknownCouncilError) as exc:
        print(f"youthvoice: {exc}", file=sys.stderr)
        return 2
    except campaign_cli.Refused as exc:
        print(f"youthvoice: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="youthvoice", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="the application's configuration (default: config.yml)")
    parser.add_argument("--database", default=None,
                        help="database URL (default: DATABASE_URL, else sqlite:///var/youthvoice.db)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="chat with the bot in this terminal")
    chat.add_argument("--as", dest="user", default=None,
                      help="who you are in the conversation (default: your login name)")
    chat.add_argument("--language", choices=["fr", "en"], default=None,
                      help="your interface language (default: from LANG)")
    chat.add_argument("--no-nlu", action="store_true",
                      help="do not start the NLU server even if it is set up")
    chat.add_argument("--log-file", type=Path, default=Path("var/chat.log"),
                      help="where warnings go while chatting (default: var/chat.log; with -v: "
                           "the terminal's standard error)")
    chat.set_defaults(func=cmd_chat)

    run = commands.add_parser("run", help="serve Telegram (needs TELEGRAM_BOT_TOKEN)")
    run.add_argument("--webhook", action="store_true",
                     help="receive updates on a web server instead of long polling")
    run.add_argument("--listen", default="127.0.0.1", help="webhook: address to listen on")
    run.add_argument("--port", type=int, default=8443, help="webhook: port to listen on")
    run.add_argument("--url", default=None,
                     help="webhook: the public HTTPS address Telegram posts to (default: none, "
                          "for a webhook set elsewhere, e.g. by another worker)")
    run.add_argument("--path", default="telegram", help="webhook: the URL path to serve")
    run.add_argument("--no-nlu", action="store_true",
                     help="do not start the NLU server (free text is kept and classified later)")
    run.add_argument("--spool", type=Path, default=Path("var/spool/telegram"),
                     help="where messages wait on disk while the database is down "
                          "(default: var/spool/telegram)")
    run.add_argument("--merge-replies", choices=[m.value for m in Merge], default=Merge.BUSY.value,
                     help="one Telegram call per button answer (the pressed question is edited into "
                          "the answer and the next question) instead of two: never, always, or busy "
                          "(while replies queue for Telegram's rate limit; the default)")
    run.set_defaults(func=cmd_run)

    campaign = commands.add_parser("campaign", help="work with survey campaign files")
    campaign_actions = campaign.add_subparsers(dest="campaign_command", required=True)
    check = campaign_actions.add_parser("check", help="validate campaign files, listing every problem")
    check.add_argument("files", nargs="+", type=Path)
    campaign_cli.add_language(check)
    check.set_defaults(func=cmd_campaign_check)
    campaign_cli.register(campaign_actions)

    nlu_commands = nlu_cli.register(commands)
    backfill_cmd = nlu_commands.add_parser(
        "backfill", help="classify free-text answers stored while the NLU was unavailable")
    nlu_cli.add_server_options(backfill_cmd)
    backfill_cmd.set_defaults(handler=nlu_cli.reporting_errors(cmd_nlu_backfill))

    safeguarding = commands.add_parser(
        "safeguarding", help="follow up alerts raised when a young person disclosed harm")
    safeguarding.add_argument("--as", dest="actor", default=None,
                              help="who you are, recorded with every step (default: your login name)")
    sg_commands = safeguarding.add_subparsers(dest="safeguarding_command", required=True)
    sg_list = sg_commands.add_parser("list", help="open alerts, oldest first")
    sg_list.add_argument("--all", action="store_true", help="closed alerts too")
    sg_list.set_defaults(func=cmd_safeguarding_list)
    sg_show = sg_commands.add_parser("show", help="an alert's message and every step so far")
    sg_show.add_argument("ref")
    sg_show.set_defaults(func=cmd_safeguarding_show)
    sg_reply = sg_commands.add_parser("reply", help="send the young person a message through the bot")
    sg_reply.add_argument("ref")
    sg_reply.add_argument("text")
    sg_reply.set_defaults(func=cmd_safeguarding_reply)
    sg_close = sg_commands.add_parser("close", help="mark an alert as dealt with")
    sg_close.add_argument("ref")
    sg_close.add_argument("--note", default=None, help="why it is closed")
    sg_close.set_defaults(func=cmd_safeguarding_close)
    digest = commands.add_parser("digest", help="councils' digests of what young people said")
    digest_commands = digest.add_subparsers(dest="digest_command", required=True)
    preview = digest_commands.add_parser(
        "preview", help="write a council's digest as HTML, text and CSV; sends and opens nothing")
    preview.add_argument("--council", required=True, help="a council id from config.yml")
    preview.add_argument("--period", default=None,
                         help="first..last day, e.g. 2026-11-23..2026-11-29 (default: the last "
                              "scheduled week)")
    preview.add_argument("--out", type=Path, default=Path("var/digests"),
                         help="folder to write into (default: var/digests)")
    preview.set_defaults(func=cmd_digest_preview)
    send = digest_commands.add_parser(
        "send", help="queue a council's digest (once per period) and deliver what is queued")
    send.add_argument("--council", default=None, help="a council id (default: every council)")
    send.add_argument("--period", default=None,
                      help="first..last day, e.g. 2026-11-23..2026-11-29 (default: the last scheduled week)")
    send.set_defaults(func=cmd_digest_send)
    example = digest_commands.add_parser(
        "example", help="rebuild the example digests in docs/ from generated answers")
    example.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "digest-example")
    example.set_defaults(func=cmd_digest_example)

    web_cli.register(commands)

    council = commands.add_parser("council", help="a council's side: answering the young people")
    council_commands = council.add_subparsers(dest="council_command", required=True)
    reply = council_commands.add_parser(
        "reply", help="send the council's answer about a campaign, once, to the young people of its "
                      "city who took part and did not /stop (the running bot sends it, not at night)")
    reply.add_argument("--council", required=True, help="a council id from config.yml")
    reply.add_argument("--campaign", required=True, help="the campaign the answer is about")
    reply.add_argument("--fr", type=Path, required=True, help="the answer in French (a UTF-8 text file)")
    reply.add_argument("--en", type=Path, required=True, help="the answer in English (a UTF-8 text file)")
    reply.set_defaults(func=cmd_council_reply)

    database = commands.add_parser("db", help="manage the database")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade", help="bring the schema up to date")
    upgrade.set_defaults(func=cmd_db_upgrade)
    return parser


def understanding(prepare: bool) -> tuple[Understander, NluStarter | None]:
    """The NLU at RASA_URL, else a supervised server started in the background (when possible)."""
    url = Secrets().rasa_url
    understander = Understander(url)
    if url is not None:
        return understander, None
    starter = NluStarter(PROJECT_ROOT, understander, prepare=prepare)
    starter.start()
    return understander, starter


def cmd_chat(args: argparse.Namespace) -> int:
    understander, starter = understanding(prepare=False) if not args.no_nlu else (None, None)
    app = build_app(args.config, args.database, understand=understander)
    try:
        user = args.user or getpass.getuser()
        return ConsoleChat(app.service, user, args.language or interface_language()).run()
    finally:
        app.close()
        if starter is not None:
            starter.stop()


def cmd_run(args: argparse.Namespace) -> int:
    secrets = Secrets()
    if secrets.telegram_token is None:
        print(NO_TOKEN.format(database=args.database or db.database_url()), file=sys.stderr)
        return 1
    if args.webhook and secrets.webhook_secret is None:
        print("youthvoice: webhook mode needs TELEGRAM_WEBHOOK_SECRET (1-256 characters: A-Z, a-z, "
              "0-9, _ and -): Telegram sends it with every update and other requests are refused.",
              file=sys.stderr)
        return 2
    understander, starter = understanding(prepare=True) if not args.no_nlu else (None, None)
    app = build_app(args.config, args.database, understand=understander)
    warn_about_safeguarding(app.config)
    catch_up = BackfillLoop(app.sessions, understander) if understander is not None else None
    if catch_up is not None:
        catch_up.start()
    digests = DigestLoop(digest_service(app, secrets))
    digests.start()
    try:
        channel = TelegramChannel(app.service, app.context.catalog,
                                  Delivery(merge=Merge(args.merge_replies)), spool=Spool(args.spool),
                                  alerts=app.alerts)
        # Every worker takes part in sending campaign invitations, under the token's one budget.
        planner = Planner(app.sessions, app.config, app.catalogue, app.service.clock)
        token = secrets.telegram_token
        budget = campaign_cli.shared_budget(app, token)
        channel.companions.append(lambda _bot: campaign_cli.broadcast_forever(
            app, planner, token, secrets.telegram_api_url, budget))
        application = build_application(channel, secrets.telegram_token, budget=budget,
                                        base_url=secrets.telegram_api_url)
        webhook = Webhook(args.listen, args.port, args.path, secrets.webhook_secret, args.url) \
            if args.webhook else None
        asyncio.run(serve(application, channel, webhook))
    finally:
        digests.stop()
        if catch_up is not None:
            catch_up.stop()
        app.close()
        if starter is not None:
            starter.stop()
    return 0


def cmd_campaign_check(args: argparse.Namespace) -> int:
    # With the configuration at hand, cities, neighbourhoods and age bands are checked too.
    community = load_config(args.config).community() if args.config.exists() else None
    catalog = GettextCatalog()
    failed = 0
    for path in args.files:
        try:
            survey = read_survey(path, community)
        except SurveyError as exc:
            failed += 1
            language = campaign_cli.partner_language(args)
            for problem in exc.problems:
                print(problem.in_(catalog, language))
            count = len(exc.problems)
            print(f"{path}: {count} problem{'s' if count > 1 else ''}")
            continue
        print(f"{path}: ok — {survey.id} v{survey.version}, {len(survey.questions)} questions")
    return 1 if failed else 0


def cmd_nlu_backfill(args: argparse.Namespace) -> int:
    engine = db.make_engine(args.database or db.database_url())
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    total = 0
    try:
        with nlu_cli.server_url(args) as url, SyncNluClient(url, timeout=args.timeout) as client:
            while (done := backfill(sessions, client)) > 0:
                total += done
                if done < BACKFILL_BATCH:
                    break
    finally:
        engine.dispose()
    with sessions() as session:
        left = len(repo.answers_pending_understanding(session, 10_000))
    print(f"classified {total} answer(s); {left} still waiting for the NLU")
    return 0 if left == 0 else 1


def _staff(args: argparse.Namespace) -> tuple[Staff, str, Callable[[], None]]:
    app = build_app(args.config, args.database)
    return (Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock),
            args.actor or getpass.getuser(), app.close)


def cmd_safeguarding_list(args: argparse.Namespace) -> int:
    staff, _actor, close = _staff(args)
    try:
        lines = staff.list(include_closed=args.all)
    finally:
        close()
    for line in lines:
        print(f"{line.ref}  {line.created_at:%Y-%m-%d %H:%M}  {line.status:6}  {line.category:20}  "
              f"{line.city or '-'}")
    if not lines:
        print("no open safeguarding alert" if not args.all else "no safeguarding alert")
    return 0


def _on_alert(args: argparse.Namespace, work: Callable[[Staff, str], str]) -> int:
    staff, actor, close = _staff(args)
    try:
        print(work(staff, actor))
    except (UnknownAlertError, ValueError) as exc:
        print(f"youthvoice: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    finally:
        close()
    return 0


def cmd_safeguarding_show(args: argparse.Namespace) -> int:
    return _on_alert(args, lambda staff, actor: staff.show(args.ref, actor))


def cmd_safeguarding_reply(args: argparse.Namespace) -> int:
    def reply(staff: Staff, actor: str) -> str:
        staff.reply(args.ref, actor, args.text)
        return (f"{args.ref}: reply queued; the bot delivers it with `youthvoice run` "
                f"(see `youthvoice safeguarding show {args.ref}`)")

    return _on_alert(args, reply)


def cmd_safeguarding_close(args: argparse.Namespace) -> int:
    def close(staff: Staff, actor: str) -> str:
        staff.close(args.ref, actor, args.note)
        return f"{args.ref}: closed"

    return _on_alert(args, close)


def _period(service: DigestService, council_id: str, text: str | None) -> Period | None:
    if text is None:
        return None
    return parse_period(text, service.zone(service.council(council_id)))


def cmd_digest_preview(args: argparse.Namespace) -> int:
    app = build_app(args.config, args.database)
    try:
        service = digest_service(app)
        written = service.preview(args.council, _period(service, args.council, args.period), args.out)
    finally:
        app.close()
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def cmd_digest_send(args: argparse.Namespace) -> int:
    app = build_app(args.config, args.database)
    try:
        service = digest_service(app)
        councils = [service.council(args.council)] if args.council else list(app.config.councils)
        for council in councils:
            period = _period(service, council.id, args.period) or service.default_period(council)
            queued = service.queue(council, period)
            print(f"{council.id}: " + (f"queued on {', '.join(queued)}" if queued
                                       else "already queued for this period"))
        delivered = service.deliver_due()
        with app.sessions() as session:
            waiting = [d for d in digest_store.deliveries(session) if d.status == digest_store.QUEUED]
    finally:
        app.close()
    print(f"delivered {delivered} digest(s)")
    for delivery in waiting:
        print(f"waiting: {delivery.council_id} {delivery.channel}, attempt {delivery.attempts}, next try "
              f"{delivery.due_at:%Y-%m-%d %H:%M} UTC: {delivery.last_error}")
    return 1 if waiting else 0


def cmd_digest_example(args: argparse.Namespace) -> int:
    for path in write_example(args.out):
        print(path)
    return 0


class ReplyError(Exception):
    """A council reply that cannot go: the message says why."""


def _reply_text(path: Path, language: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ReplyError(f"{path}: cannot read the {language} answer: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ReplyError(f"{path}: not UTF-8 text (save it as UTF-8)") from exc
    if not text:
        raise ReplyError(f"{path}: the {language} answer is empty")
    if len(text) > REPLY_LIMIT:
        raise ReplyError(f"{path}: the {language} answer has {len(text)} characters; a Telegram message "
                         f"holds at most {REPLY_LIMIT}")
    return text


def cmd_council_reply(args: argparse.Namespace) -> int:
    try:
        texts = {"fr": _reply_text(args.fr, "French"), "en": _reply_text(args.en, "English")}
    except ReplyError as exc:
        print(f"youthvoice: {exc}", file=sys.stderr)
        return 2
    app = build_app(args.config, args.database)
    try:
        council = digest_service(app).council(args.council)
        now = app.service.clock()
        with app.sessions.begin() as session:
            version = campaign_store.highest_version(session, args.campaign)
            if version is None:
                print(f"youthvoice: no campaign {args.campaign!r} in the database", file=sys.stderr)
                return 2
            if council_replies.record_reply(session, council.id, args.campaign, council.city, texts["fr"],
                                            texts["en"], now) is None:
                print(f"youthvoice: {council.id} already replied about {args.campaign}: young people get "
                      "one answer per campaign, nothing was sent again", file=sys.stderr)
                return 1
            queued = council_replies.queue_reply(session, args.campaign, version, council.city, "telegram",
                                                 now, now)
    finally:
        app.close()
    print(f"{queued} young people of {council.city} who took part in {args.campaign} will receive the "
          "answer in their language; the running bot sends it (not during quiet hours). The next digest "
          "says how many received it.")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    url = args.database or db.database_url()
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
    finally:
        engine.dispose()
    print(f"database schema is up to date ({engine.url.render_as_string(hide_password=True)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

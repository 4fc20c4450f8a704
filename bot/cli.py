"""youthvoice: one entry point for running, chatting, checking campaigns and managing the database."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from telegram import Update

from bot import campaign_cli
from bot.app import DEFAULT_CONFIG, build_app
from bot.broadcast import Planner
from bot.campaigns import read_survey
from bot.channels.console import ConsoleChat, interface_language
from bot.channels.spool import Spool
from bot.channels.telegram import TelegramChannel, build_application
from bot.config import ConfigError, Secrets, load_config
from bot.engine.loader import SurveyError
from bot.i18n import CatalogMissingError
from bot.understanding import BACKFILL_BATCH, BackfillLoop, NluStarter, Understander, backfill
from nlu import cli as nlu_cli
from nlu.client import SyncNluClient
from storage import db
from storage import repositories as repo

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        handler = getattr(args, "func", None) or args.handler
        return int(handler(args))
    except (ConfigError, SurveyError, CatalogMissingError) as exc:
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
    run.set_defaults(func=cmd_run)

    campaign = commands.add_parser("campaign", help="work with survey campaign files")
    campaign_actions = campaign.add_subparsers(dest="campaign_command", required=True)
    check = campaign_actions.add_parser("check", help="validate campaign files, listing every problem")
    check.add_argument("files", nargs="+", type=Path)
    check.set_defaults(func=cmd_campaign_check)
    campaign_cli.register(campaign_actions)

    nlu_commands = nlu_cli.register(commands)
    backfill_cmd = nlu_commands.add_parser(
        "backfill", help="classify free-text answers stored while the NLU was unavailable")
    nlu_cli.add_server_options(backfill_cmd)
    backfill_cmd.set_defaults(handler=nlu_cli.reporting_errors(cmd_nlu_backfill))

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
    catch_up = BackfillLoop(app.sessions, understander) if understander is not None else None
    if catch_up is not None:
        catch_up.start()
    try:
        channel = TelegramChannel(app.service, app.context.catalog, spool=Spool(args.spool))
        # Every worker takes part in sending campaign invitations, under the token's one budget.
        planner = Planner(app.sessions, app.config, app.catalogue, app.service.clock)
        token = secrets.telegram_token
        budget = campaign_cli.shared_budget(app, token)
        channel.background.append(lambda _bot: campaign_cli.broadcast_forever(
            app, planner, token, secrets.telegram_api_url, budget))
        application = build_application(channel, secrets.telegram_token, budget=budget,
                                        base_url=secrets.telegram_api_url)
        if args.webhook:
            application.run_webhook(listen=args.listen, port=args.port, url_path=args.path,
                                    secret_token=secrets.webhook_secret, webhook_url=args.url,
                                    allowed_updates=Update.ALL_TYPES)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        if catch_up is not None:
            catch_up.stop()
        app.close()
        if starter is not None:
            starter.stop()
    return 0


def cmd_campaign_check(args: argparse.Namespace) -> int:
    # With the configuration at hand, cities, neighbourhoods and age bands are checked too.
    community = load_config(args.config).community() if args.config.exists() else None
    failed = 0
    for path in args.files:
        try:
            survey = read_survey(path, community)
        except SurveyError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem)
            print(f"{path}: {len(exc.problems)} problem(s)")
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

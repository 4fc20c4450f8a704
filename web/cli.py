"""`youthvoice web` and `youthvoice user ...`: serving the console and managing its accounts."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from bot.app import build_app
from bot.config import load_config
from storage import db
from storage import staff_repository as staff
from web.accounts import AccountError, add_account, reset_link, set_active
from web.settings import SettingsError, WebSettings, base_url, secret_key

# Changes made at the terminal are recorded under this name in the audit trail.
COMMAND_LINE = "command line"


def register(commands: Any) -> None:
    web = commands.add_parser("web", help="serve the web console for partners, councils and staff")
    web.add_argument("--listen", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1; put a reverse proxy in front)")
    web.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    web.set_defaults(func=cmd_web)

    user = commands.add_parser("user", help="manage the web console's accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create an account and print its one-time password link")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=["admin", "partner", "council", "safeguarding"])
    add.add_argument("--name", default="", help="the person's name as the console shows it")
    add.add_argument("--partner", default=None, help="partner id (config.yml) of a partner account")
    add.add_argument("--council", default=None, help="council id (config.yml) of a council account")
    add.add_argument("--language", choices=["fr", "en"], default=None,
                     help="the console's language for this person (default: config.yml's)")
    add.set_defaults(func=cmd_user_add)
    link = user_commands.add_parser("link", help="print a new one-time link to set the password")
    link.add_argument("email")
    link.set_defaults(func=cmd_user_link)
    listing = user_commands.add_parser("list", help="list the accounts")
    listing.set_defaults(func=cmd_user_list)
    for name, active in (("disable", False), ("enable", True)):
        toggle = user_commands.add_parser(name, help=f"{name} an account (signs it out everywhere)"
                                          if not active else "enable a disabled account")
        toggle.add_argument("email")
        toggle.set_defaults(func=cmd_user_active, active=active)


def _settings() -> WebSettings:
    return WebSettings(secret_key=secret_key(), base_url=base_url())


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import build_console, create_app

    try:
        settings = _settings()
    except SettingsError as exc:
        print(f"youthvoice: {exc}", file=sys.stderr)
        return 2
    app = build_app(args.config, args.database)
    try:
        console = create_app(build_console(app, settings))
        print(f"YouthVoice console on http://{args.listen}:{args.port}/ (public address {settings.base_url})")
        # Behind the reverse proxy, trust its X-Forwarded-* headers only when it is on this machine.
        uvicorn.run(console, host=args.listen, port=args.port, proxy_headers=True,
                    forwarded_allow_ips="127.0.0.1", log_level="info" if args.verbose else "warning")
    finally:
        app.close()
    return 0


def _with_session(args: argparse.Namespace, work: Any) -> int:
    config = load_config(args.config)
    engine = db.make_engine(args.database or db.database_url())
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            return int(work(session, config, datetime.now(UTC)))
    except (AccountError, SettingsError) as exc:
        print(f"youthvoice: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def cmd_user_add(args: argparse.Namespace) -> int:
    def work(session: Any, config: Any, now: datetime) -> int:
        link = add_account(session, config, _settings(), email=args.email, name=args.name, role=args.role,
                           partner_id=args.partner, council_id=args.council,
                           language=args.language or config.default_language, actor=COMMAND_LINE, now=now)
        print(f"Account created for {link.email} ({args.role}).")
        print("Send them this link to choose a password; it works once, until "
              f"{link.expires_at:%Y-%m-%d %H:%M} UTC:")
        print(f"  {link.url}")
        return 0

    return _with_session(args, work)


def cmd_user_link(args: argparse.Namespace) -> int:
    def work(session: Any, _config: Any, now: datetime) -> int:
        link = reset_link(session, _settings(), args.email, COMMAND_LINE, now)
        print(f"New link for {link.email}, valid once until {link.expires_at:%Y-%m-%d %H:%M} UTC:")
        print(f"  {link.url}")
        return 0

    return _with_session(args, work)


def cmd_user_list(args: argparse.Namespace) -> int:
    def work(session: Any, _config: Any, _now: datetime) -> int:
        users = staff.list_users(session)
        if not users:
            print("no accounts yet: youthvoice user add EMAIL --role admin")
        for user in users:
            state = "disabled" if not user.active else "active" if user.password_hash else "no password yet"
            scope = user.partner_id or user.council_id or "-"
            print(f"{user.email:40} {user.role:13} {scope:20} {state}")
        return 0

    return _with_session(args, work)


def cmd_user_active(args: argparse.Namespace) -> int:
    def work(session: Any, _config: Any, now: datetime) -> int:
        set_active(session, args.email, args.active, COMMAND_LINE, now)
        print(f"{args.email.strip().lower()}: {'enabled' if args.active else 'disabled'}")
        return 0

    return _with_session(args, work)

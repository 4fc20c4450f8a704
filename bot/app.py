"""Assemble the application from config.yml and the environment: one place, used by every entry point."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot as TelegramApiBot

from bot.alerts import AlertDispatcher, routing, unserved_cities
from bot.campaigns import LiveCatalogue, read_campaigns, seed_campaigns
from bot.config import AppConfig, Secrets, load_config
from bot.engine.conversation import Context
from bot.i18n import GettextCatalog
from bot.language import choose_language
from bot.lexicon import load_lexicon
from bot.mail import Mailer
from bot.service import Clock, ConversationService, Understand, utc_now
from digests.delivery import OutboxWriter, SmtpSender, TelegramBot
from digests.service import DigestService
from storage import db
from storage import repositories as repo
from storage.safeguarding import Destination

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config.yml")


@dataclass
class App:
    config: AppConfig
    engine: Engine
    sessions: sessionmaker[Session]
    context: Context
    service: ConversationService
    catalogue: LiveCatalogue
    alerts: AlertDispatcher

    def close(self) -> None:
        self.engine.dispose()


def build_app(config_path: Path = DEFAULT_CONFIG, database_url: str | None = None, *,
              clock: Clock = utc_now, understand: Understand | None = None,
              new_id: Callable[[], str] = repo.new_participant_id,
              env: Mapping[str, str] | None = None) -> App:
    """Read the configuration and campaigns, bring the database schema up to date, build the service."""
    config = load_config(config_path)
    community = config.community()
    seeds = read_campaigns(config.campaigns, config_path.parent, community)
    catalog = GettextCatalog()
    engine = db.make_engine(database_url or db.database_url())
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            seed_campaigns(session, seeds, clock())
    except IntegrityError:
        # Another worker starting at the same moment seeded them first: what it stored is used.
        with sessions.begin() as session:
            seed_campaigns(session, seeds, clock())
    catalogue = LiveCatalogue(sessions, config)
    start = Context(community=community, campaigns=(), catalog=catalog, lexicon=load_lexicon())
    service = ConversationService(sessions, start, catalog, choose_language, clock=clock,
                                  understand=understand, new_id=new_id,
                                  alert_routing=routing(community, safeguarding_contacts(config)),
                                  retention=timedelta(days=config.retention.free_text_days),
                                  cooldown=timedelta(hours=config.consent.cooldown_hours),
                                  pseudonym_key=pseudonym_key(os.environ if env is None else env),
                                  catalogue=catalogue)
    context = service.refresh_campaigns()
    alerts = AlertDispatcher(sessions, context.community, catalog, clock,
                             Mailer.from_config(config.email, os.environ if env is None else env),
                             config.default_language)
    return App(config, engine, sessions, context, service, catalogue, alerts)


def pseudonym_key(env: Mapping[str, str]) -> bytes | None:
    """YOUTHVOICE_PSEUDONYM_KEY: keys the hashes of turned-away chats. Without it each process
    makes its own, and a cool-down ends when the bot restarts."""
    key = env.get("YOUTHVOICE_PSEUDONYM_KEY")
    return key.encode() if key else None


def warn_about_safeguarding(config: AppConfig) -> None:
    """Say when the bot starts, not on the day of a disclosure, where alerts cannot reach local
    staff."""
    contacts = safeguarding_contacts(config)
    if not contacts:
        log.warning("no partner has a safeguarding contact in the configuration: alerts reach "
                    "nobody until staff look (`youthvoice safeguarding list` or the console); add "
                    "one under partners: safeguarding:")
        return
    unserved = unserved_cities(config.community(), contacts)
    if unserved:
        log.warning("no partner with a safeguarding contact serves %s: alerts from there go to "
                    "every partner's staff (%s); add a partner for those cities",
                    ", ".join(unserved), ", ".join(contacts))


def safeguarding_contacts(config: AppConfig) -> dict[str, list[Destination]]:
    """Per partner id, where its safeguarding staff get alerts."""
    contacts: dict[str, list[Destination]] = {}
    for partner in config.partners:
        contact = partner.safeguarding
        if contact is None:
            continue
        found = contacts.setdefault(partner.id, [])
        if contact.telegram_chat is not None:
            found.append(Destination("telegram", str(contact.telegram_chat)))
        if contact.email is not None:
            found.append(Destination("email", contact.email))
    return contacts


def digest_service(app: App, secrets: Secrets | None = None, *, clock: Clock = utc_now) -> DigestService:
    """Councils' digests for this deployment: SMTP when configured (credentials from the
    environment), else the outbox folder; Telegram when a bot token is set."""
    secrets = secrets or Secrets()
    email = app.config.email
    smtp = (SmtpSender(email.smtp, secrets.smtp_username, secrets.smtp_password)
            if email.smtp is not None else None)
    token, base_url = secrets.telegram_token, secrets.telegram_api_url
    telegram = None
    if token is not None:
        def telegram() -> TelegramBot:
            if base_url is None:
                return TelegramApiBot(token)
            return TelegramApiBot(token, base_url=f"{base_url.rstrip('/')}/bot")

    return DigestService(app.config, app.sessions, clock=clock, smtp=smtp,
                         outbox=OutboxWriter(Path(email.outbox)), telegram=telegram,
                         campaign_ids=tuple(survey.id for survey in app.context.campaigns))

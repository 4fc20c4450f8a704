"""Assemble the application from config.yml and the environment: one place, used by every entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.campaigns import LiveCatalogue, read_campaigns, seed_campaigns
from bot.config import AppConfig, load_config
from bot.engine.conversation import Context
from bot.i18n import GettextCatalog
from bot.language import choose_language
from bot.service import Clock, ConversationService, Understand, utc_now
from storage import db
from storage import repositories as repo

DEFAULT_CONFIG = Path("config.yml")


@dataclass
class App:
    config: AppConfig
    engine: Engine
    sessions: sessionmaker[Session]
    context: Context
    service: ConversationService
    catalogue: LiveCatalogue

    def close(self) -> None:
        self.engine.dispose()


def build_app(config_path: Path = DEFAULT_CONFIG, database_url: str | None = None, *,
              clock: Clock = utc_now, understand: Understand | None = None,
              new_id: Callable[[], str] = repo.new_participant_id) -> App:
    """Read the configuration and campaigns, bring the database schema up to date, build the service."""
    config = load_config(config_path)
    community = config.community()
    seeds = read_campaigns(config.campaigns, config_path.parent, community)
    catalog = GettextCatalog()
    engine = db.make_engine(database_url or db.database_url())
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    with sessions.begin() as session:
        seed_campaigns(session, seeds, clock())
    catalogue = LiveCatalogue(sessions, config)
    service = ConversationService(sessions, Context(community, (), catalog), catalog, choose_language,
                                  clock=clock, understand=understand, new_id=new_id,
                                  catalogue=catalogue)
    context = service.refresh_campaigns()
    return App(config, engine, sessions, context, service, catalogue)

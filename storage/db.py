"""Engines, sessions and schema migrations."""

import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import UnsupportedDatabaseError
from storage.models import Base

# The console's tables live in their own module; importing it puts them in the one schema.
from storage.staff import StaffUser as _StaffUser  # noqa: F401

DEFAULT_DATABASE_URL = "sqlite:///var/youthvoice.db"
SQLITE_BUSY_TIMEOUT_MS = 5000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed number: the advisory lock that serialises migrations across processes.
MIGRATION_LOCK = 7_291_604

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")
_SUPPORTED_BACKENDS = ("sqlite", "postgresql")


POSTGRES_CONNECT_TIMEOUT_S = 5


def normalise_url(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver."""
    for prefix in _POSTGRES_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url(env: Mapping[str, str] | None = None) -> str:
    """The configured database: DATABASE_URL, else a SQLite file under ./var/."""
    source = os.environ if env is None else env
    configured = source.get("DATABASE_URL", "").strip()
    if configured:
        return normalise_url(configured)
    Path("var").mkdir(exist_ok=True)
    return DEFAULT_DATABASE_URL


def make_engine(url: str) -> Engine:
    """An engine for SQLite or PostgreSQL, configured for concurrent bot workers."""
    parsed = make_url(normalise_url(url))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        # libpq waits forever by default on a server that stopped answering; a turn should fail in
        # seconds so the bot can keep the message on disk and tell the participant.
        if "connect_timeout" not in parsed.query:
            parsed = parsed.update_query_dict({"connect_timeout": str(POSTGRES_CONNECT_TIMEOUT_S)})
        return create_engine(parsed, pool_pre_ping=True)
    raise UnsupportedDatabaseError(
        f"unsupported database backend {backend!r}: use one of {', '.join(_SUPPORTED_BACKENDS)}"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
        # Stop the sqlite3 module from issuing its own BEGIN so that SAVEPOINTs work and
        # the BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front: concurrent turns queue behind
        # busy_timeout instead of both reading and one then failing with "database is
        # locked". SQLite allows one writer at a time anyway; the price is that read-only
        # transactions queue too.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def migration_options(connection: Connection) -> dict[str, Any]:
    """Alembic options shared by the migrations and by schema comparisons."""
    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "compare_server_default": True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": connection.dialect.name == "sqlite",
    }


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration that needs no alembic.ini and runs on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the latest by default)."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Workers starting together must not migrate together: the second waits, then
                # finds the schema current. The lock ends with the transaction.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            command.upgrade(alembic_config(connection), revision)
    finally:
        if isinstance(target, str):
            engine.dispose()

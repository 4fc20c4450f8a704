import socket
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, select, text
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from storage.db import DEFAULT_DATABASE_URL, database_url, make_engine, upgrade
from storage.errors import UnsupportedDatabaseError
from storage.models import Participant
from storage.repositories import get_or_create_participant


def test_database_url_defaults_to_a_sqlite_file_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = database_url({})
    assert url == DEFAULT_DATABASE_URL == "sqlite:///var/youthvoice.db"
    assert (tmp_path / "var").is_dir()
    upgrade(url)
    assert (tmp_path / "var" / "youthvoice.db").is_file()


def test_database_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/youthvoice/db.sqlite")
    assert database_url() == "sqlite:////srv/youthvoice/db.sqlite"
    assert database_url({"DATABASE_URL": "sqlite:///other.db"}) == "sqlite:///other.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://yv:secret@db:5432/youthvoice", "postgresql+psycopg://yv:secret@db:5432/youthvoice"),
        ("postgres://yv@db/youthvoice", "postgresql+psycopg://yv@db/youthvoice"),
        ("postgresql+psycopg://yv@db/youthvoice", "postgresql+psycopg://yv@db/youthvoice"),
    ],
)
def test_postgresql_urls_use_psycopg(given: str, expected: str) -> None:
    assert database_url({"DATABASE_URL": given}) == expected


def test_other_backends_are_refused() -> None:
    with pytest.raises(UnsupportedDatabaseError, match="mysql"):
        make_engine("mysql://yv@db/youthvoice")


def test_sqlite_connections_enforce_foreign_keys_with_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_engine_replaces_connections_the_server_dropped(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    admin = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            dropped_pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        # The pooled connection is now dead, as after a server restart or idle timeout.
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped_pid})
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != dropped_pid
    finally:
        engine.dispose()
        admin.dispose()


def test_a_postgresql_server_that_stopped_answering_fails_the_connection_in_seconds() -> None:
    assert make_engine("postgresql://bot@db.internal/yv").url.query["connect_timeout"] == "5"
    # Accepts TCP connections (the kernel's backlog) but never says a word, like a hung server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql://bot@127.0.0.1:{port}/yv?connect_timeout=2")
        assert engine.url.query["connect_timeout"] == "2"
        with pytest.raises(OperationalError, match="timeout"):
            engine.connect()
        engine.dispose()


def test_upgrade_accepts_a_url(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            assert "participants" in inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_loaded_objects_stay_readable_after_commit(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        participant = get_or_create_participant(session, "console", "local", now)
    assert participant.created_at == now
    assert len(participant.id) == 32


def test_times_are_stored_and_returned_as_utc(sessions: sessionmaker[Session]) -> None:
    paris_summer = timezone(timedelta(hours=2))
    local = datetime(2026, 7, 1, 9, 30, tzinfo=paris_summer)
    with sessions.begin() as session:
        participant_id = get_or_create_participant(session, "console", "local", local).id
    with sessions.begin() as session:
        created_at = session.scalars(
            select(Participant.created_at).where(Participant.id == participant_id)
        ).one()
    assert created_at == local
    assert created_at.tzinfo is UTC
    assert created_at.hour == 7


def test_naive_times_are_refused(engine: Engine, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), sessions.begin() as session:
        get_or_create_participant(session, "console", "local", datetime(2026, 7, 1, 9, 30))

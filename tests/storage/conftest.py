from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_sessionmaker, upgrade
from storage.repositories import get_or_create_participant

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the latest schema."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def participant_id(sessions: sessionmaker[Session], now: datetime) -> str:
    with sessions.begin() as session:
        return get_or_create_participant(session, "telegram", "1001", now).id


@pytest.fixture
def background() -> Iterator[ThreadPoolExecutor]:
    """Threads for a second database client; each thread uses its own session."""
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor

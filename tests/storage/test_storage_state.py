from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import ConcurrentUpdateError
from storage.records import StoredState
from storage.repositories import get_or_create_participant, load_state, save_state

BLOCKED_FOR_S = 0.3

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=5)


def test_a_state_is_created_then_updated_version_by_version(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        assert load_state(session, participant_id) is None
        assert save_state(session, participant_id, {"step": "consent"}, None, now) == 1
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState({"step": "consent"}, 1)
        assert save_state(session, participant_id, {"step": "age"}, 1, now + timedelta(seconds=5)) == 2
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState({"step": "age"}, 2)


def test_of_two_writers_from_the_same_version_one_wins(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        save_state(session, participant_id, {"step": "city"}, None, now)
    with sessions.begin() as first:
        first_loaded = load_state(first, participant_id)
    with sessions.begin() as second:
        second_loaded = load_state(second, participant_id)
    assert first_loaded is not None and second_loaded is not None
    assert first_loaded.version == second_loaded.version == 1

    with sessions.begin() as first:
        assert save_state(first, participant_id, {"step": "q1"}, first_loaded.version, now) == 2
    with pytest.raises(ConcurrentUpdateError, match="version 1"), sessions.begin() as second:
        save_state(second, participant_id, {"step": "lost"}, second_loaded.version, now)
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState({"step": "q1"}, 2)


def test_two_first_saves_collide(sessions: sessionmaker[Session], participant_id: str, now: datetime) -> None:
    with sessions.begin() as session:
        save_state(session, participant_id, {"by": "first"}, None, now)
    with pytest.raises(ConcurrentUpdateError, match="created by another writer"), sessions.begin() as session:
        save_state(session, participant_id, {"by": "second"}, None, now)
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState({"by": "first"}, 1)


def test_overlapping_turns_never_lose_an_update(
    sessions: sessionmaker[Session], participant_id: str, now: datetime, background: ThreadPoolExecutor
) -> None:
    with sessions.begin() as session:
        save_state(session, participant_id, {"turns": []}, None, now)

    def turn(name: str, session: Session) -> int:
        loaded = load_state(session, participant_id)
        assert loaded is not None
        data = {"turns": [*loaded.data["turns"], name]}
        return save_state(session, participant_id, data, loaded.version, now)

    def second_turn() -> int:
        with sessions.begin() as session:
            return turn("second", session)

    with sessions.begin() as session:
        assert turn("first", session) == 2
        racing = background.submit(second_turn)
        assert not wait([racing], timeout=BLOCKED_FOR_S).done
    # PostgreSQL lets the second turn read the old version, so its save is refused;
    # SQLite queues the second turn behind the first, so it builds on the first's state.
    try:
        second_version: int | None = racing.result()
    except ConcurrentUpdateError:
        second_version = None
    with sessions.begin() as session:
        final = load_state(session, participant_id)
    if second_version is None:
        assert final == StoredState({"turns": ["first"]}, 2)
    else:
        assert final == StoredState({"turns": ["first", "second"]}, 3)


def test_a_state_needs_an_existing_participant(sessions: sessionmaker[Session], now: datetime) -> None:
    with pytest.raises(IntegrityError), sessions.begin() as session:
        save_state(session, "f" * 32, {}, None, now)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=json_objects, second=json_objects)
def test_any_json_object_round_trips(
    sessions: sessionmaker[Session], now: datetime, first: dict[str, Any], second: dict[str, Any]
) -> None:
    # Each example gets its own participant: the database is shared by all examples.
    with sessions.begin() as session:
        participant_id = get_or_create_participant(session, "hypothesis", uuid4().hex, now).id
    with sessions.begin() as session:
        version = save_state(session, participant_id, first, None, now)
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState(first, version)
        version = save_state(session, participant_id, second, version, now)
    with sessions.begin() as session:
        assert load_state(session, participant_id) == StoredState(second, version)

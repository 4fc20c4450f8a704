import re
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import UnknownParticipantError
from storage.models import ChannelIdentity, Participant
from storage.repositories import (
    find_participant,
    get_or_create_participant,
    set_stopped,
    update_profile,
)

# Long enough for a second client to reach the database and wait on a lock.
BLOCKED_FOR_S = 0.3


def count_participants(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        return session.scalars(select(func.count()).select_from(Participant)).one()


def test_a_new_identity_creates_a_pseudonymous_participant(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        assert find_participant(session, "telegram", "42") is None
        created = get_or_create_participant(session, "telegram", "42", now)
    assert re.fullmatch(r"[0-9a-f]{32}", created.id)
    assert created.created_at == now
    assert (created.language, created.age_band, created.city, created.neighbourhood) == (None,) * 4
    assert created.stopped_at is None


def test_the_same_identity_finds_the_same_participant(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        first = get_or_create_participant(session, "telegram", "42", now)
    with sessions.begin() as session:
        again = get_or_create_participant(session, "telegram", "42", now + timedelta(days=3))
        found = find_participant(session, "telegram", "42")
    assert again.id == first.id
    assert again.created_at == now
    assert found is not None and found.id == first.id
    assert count_participants(sessions) == 1


def test_identities_are_per_channel(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        telegram = get_or_create_participant(session, "telegram", "42", now)
        console = get_or_create_participant(session, "console", "42", now)
        other = get_or_create_participant(session, "telegram", "43", now)
    assert len({telegram.id, console.id, other.id}) == 3


def test_the_id_source_can_be_injected(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        participant = get_or_create_participant(session, "console", "a", now, new_id=lambda: "0" * 32)
    assert participant.id == "0" * 32


def test_the_database_refuses_a_second_owner_for_an_identity(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        get_or_create_participant(session, "telegram", "42", now)
        intruder = get_or_create_participant(session, "telegram", "43", now)
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(
            ChannelIdentity(channel="telegram", external_id="42", participant_id=intruder.id, created_at=now)
        )


def test_a_concurrent_first_message_yields_one_participant(
    sessions: sessionmaker[Session], now: datetime, background: ThreadPoolExecutor
) -> None:
    def second_client() -> str:
        with sessions.begin() as session:
            return get_or_create_participant(session, "telegram", "42", now).id

    with sessions.begin() as session:
        first = get_or_create_participant(session, "telegram", "42", now)
        racing = background.submit(second_client)
        # The second client must wait for this transaction instead of creating a twin.
        assert not wait([racing], timeout=BLOCKED_FOR_S).done
    assert racing.result() == first.id
    assert count_participants(sessions) == 1


def test_update_profile_changes_only_the_given_fields(
    sessions: sessionmaker[Session], participant_id: str
) -> None:
    with sessions.begin() as session:
        update_profile(session, participant_id, language="fr", age_band="16-17", city="Lyon")
    with sessions.begin() as session:
        update_profile(session, participant_id, neighbourhood="Croix-Rousse", age_band=None)
    with sessions.begin() as session:
        participant = session.get_one(Participant, participant_id)
        assert participant.language == "fr"
        assert participant.age_band is None
        assert participant.city == "Lyon"
        assert participant.neighbourhood == "Croix-Rousse"


def test_profile_changes_need_an_existing_participant(sessions: sessionmaker[Session], now: datetime) -> None:
    with pytest.raises(UnknownParticipantError), sessions.begin() as session:
        update_profile(session, "f" * 32, language="en")
    with pytest.raises(UnknownParticipantError), sessions.begin() as session:
        set_stopped(session, "f" * 32, True, now)


def test_stopping_keeps_the_first_time_and_resuming_clears_it(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        assert set_stopped(session, participant_id, True, now).stopped_at == now
    with sessions.begin() as session:
        assert set_stopped(session, participant_id, True, now + timedelta(hours=1)).stopped_at == now
    with sessions.begin() as session:
        assert set_stopped(session, participant_id, False, now + timedelta(hours=2)).stopped_at is None
    with sessions.begin() as session:
        assert session.get_one(Participant, participant_id).stopped_at is None

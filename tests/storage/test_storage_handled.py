import threading
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import HandledMessage
from storage.repositories import forget_handled_before, mark_handled

# Long enough for a second client to reach the database and wait on a lock.
BLOCKED_FOR_S = 0.3


def test_a_message_is_handled_once(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        assert mark_handled(session, "telegram", "update:1", participant_id, now) is True
        assert mark_handled(session, "telegram", "update:1", participant_id, now) is False
    with sessions.begin() as session:
        assert mark_handled(session, "telegram", "update:1", participant_id, now) is False
        assert mark_handled(session, "telegram", "update:2", participant_id, now) is True
        assert mark_handled(session, "console", "update:1", None, now) is True
    with sessions.begin() as session:
        rows = session.execute(
            select(
                HandledMessage.channel, HandledMessage.message_key, HandledMessage.participant_id
            ).order_by(HandledMessage.channel, HandledMessage.message_key)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("console", "update:1", None),
        ("telegram", "update:1", participant_id),
        ("telegram", "update:2", participant_id),
    ]


@pytest.mark.parametrize(("first_commits", "second_handles"), [(True, False), (False, True)])
def test_a_duplicate_waits_for_the_first_delivery_to_finish(
    sessions: sessionmaker[Session],
    participant_id: str,
    now: datetime,
    background: ThreadPoolExecutor,
    first_commits: bool,
    second_handles: bool,
) -> None:
    def second_delivery() -> bool:
        with sessions.begin() as session:
            return mark_handled(session, "telegram", "update:7", participant_id, now)

    session = sessions()
    with session:
        session.begin()
        assert mark_handled(session, "telegram", "update:7", participant_id, now) is True
        duplicate = background.submit(second_delivery)
        assert not wait([duplicate], timeout=BLOCKED_FOR_S).done
        if first_commits:
            session.commit()
        else:
            session.rollback()
    # A committed first delivery makes the duplicate a no-op; a failed one leaves it to do.
    assert duplicate.result() is second_handles


def test_racing_deliveries_handle_a_message_exactly_once(
    sessions: sessionmaker[Session], participant_id: str, now: datetime, background: ThreadPoolExecutor
) -> None:
    deliveries = 8
    start = threading.Barrier(deliveries)

    def deliver() -> bool:
        start.wait()
        with sessions.begin() as session:
            return mark_handled(session, "telegram", "update:9", participant_id, now)

    outcomes = [future.result() for future in [background.submit(deliver) for _ in range(deliveries)]]
    assert sorted(outcomes) == [False] * (deliveries - 1) + [True]


def test_old_marks_are_forgotten_recent_ones_kept(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        mark_handled(session, "telegram", "old", participant_id, now - timedelta(days=8))
        mark_handled(session, "telegram", "erased", None, now - timedelta(days=9))
        mark_handled(session, "telegram", "recent", participant_id, now - timedelta(days=6))
    with sessions.begin() as session:
        assert forget_handled_before(session, now - timedelta(days=7)) == 2
    with sessions.begin() as session:
        assert session.scalars(select(HandledMessage.message_key)).all() == ["recent"]
        assert mark_handled(session, "telegram", "recent", participant_id, now) is False

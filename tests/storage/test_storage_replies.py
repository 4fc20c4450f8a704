from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import PendingReply
from storage.repositories import (
    claim_due_replies,
    find_conversation,
    forget_replies,
    queue_reply,
    record_buttons,
    retry_reply_later,
)

LEASE = timedelta(minutes=2)


def pending(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(select(PendingReply.channel, PendingReply.address, PendingReply.payload)
                           .order_by(PendingReply.id)).all()
    return [(channel, address, payload["text"]) for channel, address, payload in rows]


def test_a_queued_reply_stays_until_forgotten(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        first = queue_reply(session, "telegram", "42", {"text": "Q1"}, now, now + LEASE)
        other = queue_reply(session, "telegram", "43", {"text": "Q1 for 43"}, now, now + LEASE)
    with sessions.begin() as session:
        assert pending(session) == [("telegram", "42", "Q1"), ("telegram", "43", "Q1 for 43")]
        assert forget_replies(session, [first]) == 1
        assert forget_replies(session, [first]) == 0
        assert forget_replies(session, []) == 0
        assert pending(session) == [("telegram", "43", "Q1 for 43")]
    assert other != first


def test_a_reply_id_is_never_given_again(sessions: sessionmaker[Session], now: datetime) -> None:
    # The channel reports delivered ids later, in batches: a reused id would remove a new reply.
    with sessions.begin() as session:
        first = queue_reply(session, "telegram", "42", {"text": "Q1"}, now, now + LEASE)
    with sessions.begin() as session:
        forget_replies(session, [first])
    with sessions.begin() as session:
        second = queue_reply(session, "telegram", "42", {"text": "Q2"}, now, now + LEASE)
    assert second > first


def test_a_newer_reply_to_the_same_chat_replaces_the_waiting_one(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        queue_reply(session, "telegram", "42", {"text": "Q1"}, now, now + LEASE)
        queue_reply(session, "console", "42", {"text": "other channel"}, now, now + LEASE)
        queue_reply(session, "telegram", "42", {"text": "Q2"}, now, now + LEASE)
    with sessions.begin() as session:
        assert pending(session) == [("console", "42", "other channel"), ("telegram", "42", "Q2")]


def test_only_replies_past_their_lease_are_claimed_and_only_once(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        late = queue_reply(session, "telegram", "1", {"text": "late"}, now, now)
        queue_reply(session, "console", "1", {"text": "another channel's"}, now, now)
        queue_reply(session, "telegram", "2", {"text": "in flight"}, now, now + LEASE)
    with sessions.begin() as session:
        claimed = claim_due_replies(session, "telegram", now, now + LEASE, limit=10)
    assert [(r.id, r.address, r.payload, r.attempts) for r in claimed] == [(late, "1", {"text": "late"}, 0)]
    with sessions.begin() as session:
        assert claim_due_replies(session, "telegram", now + timedelta(seconds=1), now + LEASE, limit=10) == []
    with sessions.begin() as session:
        later = claim_due_replies(session, "telegram", now + LEASE, now + 2 * LEASE, 10)
    assert {r.address for r in later} == {"1", "2"}


def test_a_reply_to_retry_keeps_its_progress_and_waits(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        reply = queue_reply(session, "telegram", "1", {"text": "Q", "done": 0}, now, now)
    with sessions.begin() as session:
        retry_reply_later(session, reply, {"text": "Q", "done": 1}, now + timedelta(seconds=30), 1)
    with sessions.begin() as session:
        assert claim_due_replies(session, "telegram", now + timedelta(seconds=29), now + LEASE, 10) == []
        (again,) = claim_due_replies(session, "telegram", now + timedelta(seconds=30), now + LEASE, 10)
    assert (again.payload, again.attempts) == ({"text": "Q", "done": 1}, 1)


def test_two_workers_claiming_at_once_never_share_a_reply(
    sessions: sessionmaker[Session], now: datetime, background: ThreadPoolExecutor
) -> None:
    with sessions.begin() as session:
        for chat in range(40):
            queue_reply(session, "telegram", str(chat), {"text": "Q"}, now, now)

    def claim() -> list[int]:
        taken: list[int] = []
        while True:
            with sessions.begin() as session:
                batch = claim_due_replies(session, "telegram", now, now + LEASE, limit=3)
            if not batch:
                return taken
            taken.extend(r.id for r in batch)

    first, second = background.submit(claim), background.submit(claim)
    ids = first.result() + second.result()
    assert len(ids) == len(set(ids)) == 40
    with sessions.begin() as session:
        assert session.scalars(select(func.count()).select_from(PendingReply)).one() == 40


def test_a_new_reply_also_removes_replies_reported_delivered(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    # Delivered replies to other chats go with the next turn's statement, not a commit of their own.
    with sessions.begin() as session:
        first = queue_reply(session, "telegram", "42", {"text": "Q1"}, now, now + LEASE)
        other = queue_reply(session, "telegram", "43", {"text": "Q1 for 43"}, now, now + LEASE)
        queue_reply(session, "telegram", "44", {"text": "Q1 for 44"}, now, now + LEASE)
    with sessions.begin() as session:
        queue_reply(session, "telegram", "45", {"text": "Q1 for 45"}, now, now + LEASE,
                    delivered=[first, other])
    with sessions.begin() as session:
        assert pending(session) == [("telegram", "44", "Q1 for 44"), ("telegram", "45", "Q1 for 45")]


def test_a_chats_live_buttons_are_kept_with_its_identity(
    sessions: sessionmaker[Session], participant_id: str
) -> None:
    def live() -> int | None:
        with sessions.begin() as session:
            return find_conversation(session, "telegram", "1001")[2]

    assert live() is None
    with sessions.begin() as session:
        record_buttons(session, "telegram", {"1001": (57, True), "unknown": (3, True)})
    with sessions.begin() as session:
        known, _, buttons = find_conversation(session, "telegram", "1001")
        assert (known, buttons) == (participant_id, 57)
    # News of an older message (from a slower worker) does not overwrite a later one.
    with sessions.begin() as session:
        record_buttons(session, "telegram", {"1001": (50, False)})
    assert live() == 57
    with sessions.begin() as session:
        record_buttons(session, "telegram", {"1001": (56, True)})
    assert live() == 57
    with sessions.begin() as session:
        record_buttons(session, "telegram", {"1001": (57, False)})
    assert live() is None
    with sessions.begin() as session:
        record_buttons(session, "telegram", {"1001": (60, True)})
    assert live() == 60

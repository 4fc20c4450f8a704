from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from storage.errors import UnknownParticipantError
from storage.models import (
    Answer,
    ChannelIdentity,
    ConsentRecord,
    ConversationState,
    HandledMessage,
    Participant,
    PendingReply,
    SurveyCompletion,
)
from storage.records import AnswerIn, ConsentEntry, ErasureReport
from storage.repositories import (
    erase_participant,
    get_or_create_participant,
    mark_handled,
    participant_data,
    queue_reply,
    record_completion,
    record_consent,
    save_answer,
    save_state,
    update_profile,
    upsert_campaign,
)

CHAT_ID = "987654321"


def populate(session: Session, chat_id: str, now: datetime) -> str:
    """A participant with something in every table that can hold their data."""
    participant_id = get_or_create_participant(session, "telegram", chat_id, now).id
    update_profile(
        session, participant_id, language="fr", age_band="16-17", city="Lyon", neighbourhood="Gerland"
    )
    record_consent(session, participant_id, "participation", True, "16-17", 3, now)
    record_consent(session, participant_id, "participation", False, "16-17", 3, now + timedelta(days=1))
    save_state(session, participant_id, {"step": "q2"}, None, now)
    for campaign_id, question_id in [
        ("transport-2026", "q1"),
        ("transport-2026", "q2"),
        ("parks-2026", "q1"),
    ]:
        save_answer(
            session,
            AnswerIn(
                participant_id=participant_id,
                campaign_id=campaign_id,
                campaign_version=1,
                question_id=question_id,
                option_ids=None,
                number=None,
                text="plus de bancs",
                skipped=False,
                language="fr",
                answered_at=now,
            ),
        )
    record_completion(session, participant_id, "transport-2026", 1, now)
    for update_id in range(4):
        mark_handled(session, "telegram", f"{chat_id}:{update_id}", participant_id, now)
    queue_reply(session, "telegram", chat_id, {"text": "Q3?"}, now, now)
    return participant_id


def rows_of(session: Session, participant_id: str) -> dict[str, int]:
    def count(column: InstrumentedAttribute[Any]) -> int:
        return session.scalars(select(func.count()).where(column == participant_id)).one()

    return {
        "participants": count(Participant.id),
        "channel_identities": count(ChannelIdentity.participant_id),
        "consent_records": count(ConsentRecord.participant_id),
        "conversation_states": count(ConversationState.participant_id),
        "answers": count(Answer.participant_id),
        "survey_completions": count(SurveyCompletion.participant_id),
        "handled_messages": count(HandledMessage.participant_id),
        # Replies are addressed to the chat, not to the participant.
        "pending_replies": session.scalars(
            select(func.count()).select_from(PendingReply).join(
                ChannelIdentity, (ChannelIdentity.channel == PendingReply.channel)
                & (ChannelIdentity.external_id == PendingReply.address))
            .where(ChannelIdentity.participant_id == participant_id)).one(),
    }


FULL = {
    "participants": 1,
    "channel_identities": 1,
    "consent_records": 2,
    "conversation_states": 1,
    "answers": 3,
    "survey_completions": 1,
    "handled_messages": 4,
    "pending_replies": 1,
}


def test_erasure_removes_everything_of_that_participant_and_nothing_else(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        erased = populate(session, CHAT_ID, now)
        kept = populate(session, "123", now)
        mark_handled(session, "telegram", "anonymous", None, now)
        upsert_campaign(session, "transport-2026", 1, {}, "hash", now)
    with sessions.begin() as session:
        report = erase_participant(session, erased)
    assert report == ErasureReport(**FULL)
    assert report.total == 14
    with sessions.begin() as session:
        assert rows_of(session, erased) == dict.fromkeys(FULL, 0)
        assert rows_of(session, kept) == FULL
        assert session.scalars(select(PendingReply.address)).all() == ["123"]
        assert session.get(HandledMessage, ("telegram", "anonymous")) is not None
        assert session.scalars(select(func.count()).select_from(HandledMessage)).one() == 5
        assert session.scalars(select(func.count()).select_from(ChannelIdentity)).one() == 1
        # A new message from the erased chat starts afresh, unlinked to the old data.
        reborn = get_or_create_participant(session, "telegram", CHAT_ID, now)
    assert reborn.id != erased


def test_erasing_an_unknown_participant_removes_nothing(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        populate(session, CHAT_ID, now)
    with sessions.begin() as session:
        assert erase_participant(session, "f" * 32).total == 0
    with sessions.begin() as session:
        assert session.scalars(select(func.count()).select_from(Answer)).one() == 3


def test_deleting_a_participant_row_cascades_in_the_database(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        participant_id = populate(session, CHAT_ID, now)
    with sessions.begin() as session:
        session.execute(delete(Participant).where(Participant.id == participant_id))
    with sessions.begin() as session:
        assert rows_of(session, participant_id) == dict.fromkeys(FULL, 0)


def test_participant_data_shows_what_is_kept_without_chat_ids(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        participant_id = populate(session, CHAT_ID, now)
        get_or_create_participant(session, "telegram", "123", now)
    with sessions.begin() as session:
        data = participant_data(session, participant_id)
    assert data.participant_id == participant_id
    assert data.created_at == now
    assert (data.language, data.age_band, data.city, data.neighbourhood) == ("fr", "16-17", "Lyon", "Gerland")
    assert data.stopped_at is None
    assert data.channels == ("telegram",)
    assert data.consents == (
        ConsentEntry("participation", True, "16-17", 3, now),
        ConsentEntry("participation", False, "16-17", 3, now + timedelta(days=1)),
    )
    assert data.answers_per_campaign == {"parks-2026": 1, "transport-2026": 2}
    assert CHAT_ID not in repr(asdict(data))


def test_participant_data_needs_an_existing_participant(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(UnknownParticipantError), sessions.begin() as session:
        participant_data(session, "f" * 32)

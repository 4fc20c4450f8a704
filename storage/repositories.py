"""Reading and writing YouthVoice data.

Every function takes the caller's Session and never commits: the service layer owns
the transaction (``with sessionmaker.begin() as session: ...``). Times are passed in
(timezone-aware) so that callers control the clock.
"""

import enum
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    Table,
    bindparam,
    case,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.errors import (
    CampaignVersionConflictError,
    ConcurrentUpdateError,
    UnknownParticipantError,
)
from storage.models import (
    CONSENT_KINDS,
    PARTICIPANT_ID_LENGTH,
    Answer,
    AnswerOption,
    Campaign,
    ChannelIdentity,
    ConsentRecord,
    ConversationState,
    HandledMessage,
    Participant,
    PendingReply,
    RateBudget,
    ResultSnapshot,
    SafeguardingAlert,
    SurveyCompletion,
)
from storage.records import (
    AnswerIn,
    ConsentEntry,
    ErasureReport,
    ParticipantData,
    QueuedReply,
    StoredState,
)


class _NotGiven(enum.Enum):
    NOT_GIVEN = enum.auto()


NOT_GIVEN = _NotGiven.NOT_GIVEN
"""Default of the optional fields of :func:`update_profile`: leave that field as it is."""


def new_participant_id() -> str:
    """A random pseudonymous id: 32 hexadecimal characters, unrelated to any identity."""
    return secrets.token_hex(PARTICIPANT_ID_LENGTH // 2)


def _run(session: Session, name: str, build: Callable[[str], Executable],
         params: dict[str, Any] | list[dict[str, Any]]) -> CursorResult[Any]:
    """Execute one of the statements every turn runs, built once per dialect and bound per call.

    A turn runs a handful of statements: building them anew each time, and passing them through
    the ORM, cost more CPU than the database itself (benchmarks/turn.py).
    """
    connection = session.connection()
    dialect = connection.dialect.name
    statement = _STATEMENTS.get((name, dialect))
    if statement is None:
        statement = _STATEMENTS.setdefault((name, dialect), build(dialect))
    return connection.execute(statement, params)


_STATEMENTS: dict[tuple[str, str], Executable] = {}


def _insert_for(dialect: str, entity: Any) -> postgresql.Insert | sqlite.Insert:
    # Both supported backends have INSERT ... ON CONFLICT; make_engine refuses any other.
    return postgresql.insert(entity) if dialect == "postgresql" else sqlite.insert(entity)


_identities = cast(Table, ChannelIdentity.__table__)
_states = cast(Table, ConversationState.__table__)
_answers = cast(Table, Answer.__table__)
_handled = cast(Table, HandledMessage.__table__)
_replies = cast(Table, PendingReply.__table__)
_budgets = cast(Table, RateBudget.__table__)
_participants = cast(Table, Participant.__table__)
_options = cast(Table, AnswerOption.__table__)
_completions = cast(Table, SurveyCompletion.__table__)


# Participants and identities


def find_conversation(session: Session, channel: str,
                      external_id: str) -> tuple[str | None, StoredState | None, int | None]:
    """The participant id behind a channel identity, their conversation state and the chat's last
    message with live buttons, in one query."""
    row = _run(session, "find_conversation", lambda _: (
        select(_identities.c.participant_id, _states.c.data, _states.c.version,
               _identities.c.buttons_message_id)
        .select_from(_identities.outerjoin(
            _states, _states.c.participant_id == _identities.c.participant_id))
        .where(_identities.c.channel == bindparam("channel"),
               _identities.c.external_id == bindparam("external_id"))
    ), {"channel": channel, "external_id": external_id}).first()
    if row is None:
        return None, None, None
    state = StoredState(data=row.data, version=row.version) if row.version is not None else None
    return row.participant_id, state, row.buttons_message_id


def record_buttons(session: Session, channel: str, buttons: dict[str, tuple[int, bool]]) -> None:
    """Per chat (address): this message now has live buttons, or no longer has (message id, live).

    Only forward: another worker may have recorded a later message of the chat meanwhile (message
    ids grow within a chat), and news of an older one must not overwrite it.
    """
    if not buttons:
        return
    _run(session, "record_buttons", lambda _: (
        update(_identities)
        .where(_identities.c.channel == bindparam("identity_channel"),
               _identities.c.external_id == bindparam("address"),
               (_identities.c.buttons_message_id.is_(None))
               | (_identities.c.buttons_message_id <= bindparam("message_id")))
        .values(buttons_message_id=case((bindparam("live"), bindparam("message_id")), else_=None))
    ), [{"identity_channel": channel, "address": address, "message_id": message_id, "live": live}
        for address, (message_id, live) in buttons.items()])


def find_participant(session: Session, channel: str, external_id: str) -> Participant | None:
    return session.scalars(
        select(Participant)
        .join(ChannelIdentity, ChannelIdentity.participant_id == Participant.id)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id)
    ).one_or_none()


def get_or_create_participant(
    session: Session,
    channel: str,
    external_id: str,
    now: datetime,
    *,
    new_id: Callable[[], str] = new_participant_id,
) -> Participant:
    """The participant behind a channel identity, created (with the identity) if new."""
    existing = find_participant(session, channel, external_id)
    if existing is not None:
        return existing
    participant = Participant(id=new_id(), created_at=now)
    try:
        with session.begin_nested():
            session.add(participant)
            session.flush()
            session.add(
                ChannelIdentity(
                    channel=channel,
                    external_id=external_id,
                    participant_id=participant.id,
                    created_at=now,
                )
            )
    except IntegrityError:
        # Another transaction created this identity since our lookup; the SAVEPOINT
        # undid our half, so take theirs.
        winner = find_participant(session, channel, external_id)
        if winner is None:
            raise
        return winner
    return participant


def _participant(session: Session, participant_id: str) -> Participant:
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise UnknownParticipantError(participant_id)
    return participant


def update_profile(
    session: Session,
    participant_id: str,
    *,
    language: str | _NotGiven | None = NOT_GIVEN,
    age_band: str | _NotGiven | None = NOT_GIVEN,
    city: str | _NotGiven | None = NOT_GIVEN,
    neighbourhood: str | _NotGiven | None = NOT_GIVEN,
) -> Participant:
    """Change only the fields given; passing None clears a field."""
    participant = _participant(session, participant_id)
    if not isinstance(language, _NotGiven):
        participant.language = language
    if not isinstance(age_band, _NotGiven):
        participant.age_band = age_band
    if not isinstance(city, _NotGiven):
        participant.city = city
    if not isinstance(neighbourhood, _NotGiven):
        participant.neighbourhood = neighbourhood
    return participant


def set_stopped(session: Session, participant_id: str, stopped: bool, now: datetime) -> Participant:
    """Mark a participant as having stopped all messages, or as reachable again.

    Stopping twice keeps the first time.
    """
    participant = _participant(session, participant_id)
    if not stopped:
        participant.stopped_at = None
    elif participant.stopped_at is None:
        participant.stopped_at = now
    return participant


# Delivery


def mark_handled(
    session: Session,
    channel: str,
    message_key: str,
    participant_id: str | None,
    now: datetime,
) -> bool:
    """Record an inbound message as handled: True the first time, False for a repeat.

    ON CONFLICT DO NOTHING makes a concurrent duplicate wait for the first transaction
    and then report False, instead of failing the whole transaction.
    """
    values = {"channel": channel, "message_key": message_key, "participant_id": participant_id,
              "handled_at": now}
    return _run(session, "mark_handled", lambda dialect: (
        _insert_for(dialect, _handled)
        .values({name: bindparam(name) for name in values})
        .on_conflict_do_nothing(index_elements=["channel", "message_key"])
        .returning(_handled.c.message_key)
    ), values).first() is not None


def forget_handled_before(session: Session, cutoff: datetime) -> int:
    """Drop the marks of messages handled before ``cutoff``: no channel redelivers that late."""
    deleted = session.execute(delete(HandledMessage).where(HandledMessage.handled_at < cutoff)
                              .returning(HandledMessage.message_key))
    return len(deleted.all())


def _chat_replies() -> ColumnElement[bool]:
    return (_replies.c.channel == bindparam("channel")) & (_replies.c.address == bindparam("address"))


def queue_reply(session: Session, channel: str, address: str, payload: dict[str, Any],
                now: datetime, due_at: datetime, state_version: int | None = None,
                delivered: Sequence[int] = ()) -> int:
    """Keep a turn's reply until it is delivered; it replaces any older reply still waiting there.

    A newer reply says where the conversation stands now, so delivering an older one after it
    would only confuse. Until ``due_at`` the caller delivers it; after that, anyone may.
    ``delivered``: replies (to any chat) reported delivered since, removed by the same statement.
    """
    where: dict[str, Any] = {"channel": channel, "address": address}
    if delivered:
        _run(session, "replace_reply_and_forget", lambda _: delete(_replies).where(
            _chat_replies() | _replies.c.id.in_(bindparam("delivered", expanding=True))),
            {**where, "delivered": list(delivered)})
    else:
        _run(session, "replace_reply", lambda _: delete(_replies).where(_chat_replies()), where)
    return int(_run(session, "queue_reply", lambda dialect: (
        _insert_for(dialect, _replies)
        .values(channel=bindparam("channel"), address=bindparam("address"), payload=bindparam("payload"),
                created_at=bindparam("now"), due_at=bindparam("due_at"), attempts=0,
                state_version=bindparam("made_for"))
        .returning(_replies.c.id)
    ), {**where, "payload": payload, "now": now, "due_at": due_at,
        "made_for": state_version}).scalar_one())


def forget_replies(session: Session, reply_ids: Sequence[int]) -> int:
    """Delivered (or given up): remove them. Returns how many were still there."""
    if not reply_ids:
        return 0
    return len(_run(session, "forget_replies", lambda _: (
        delete(_replies).where(_replies.c.id.in_(bindparam("ids", expanding=True)))
        .returning(_replies.c.id)
    ), {"ids": list(reply_ids)}).all())


def reply_is_current(session: Session, reply_id: int) -> bool:
    """Still worth sending: not replaced by a newer reply, and the conversation has not moved
    past the state it was made for."""
    row = _run(session, "reply_is_current", lambda _: (
        select(_replies.c.state_version, _states.c.version)
        .select_from(_replies
                     .outerjoin(_identities, (_identities.c.channel == _replies.c.channel)
                                & (_identities.c.external_id == _replies.c.address))
                     .outerjoin(_states, _states.c.participant_id == _identities.c.participant_id))
        .where(_replies.c.id == bindparam("reply"))
    ), {"reply": reply_id}).first()
    if row is None:
        return False
    return row.state_version is None or bool(row.state_version == row.version)


def extend_reply_leases(session: Session, reply_ids: Sequence[int], due_at: datetime) -> int:
    """The worker delivering these is alive: nobody else may take them before ``due_at``."""
    if not reply_ids:
        return 0
    return len(_run(session, "extend_reply_leases", lambda _: (
        update(_replies).where(_replies.c.id.in_(bindparam("ids", expanding=True)))
        .values(due_at=bindparam("due_at")).returning(_replies.c.id)
    ), {"ids": list(reply_ids), "due_at": due_at}).all())


def retry_reply_later(session: Session, reply_id: int, payload: dict[str, Any], due_at: datetime,
                      attempts: int) -> None:
    session.execute(update(PendingReply).where(PendingReply.id == reply_id)
                    .values(payload=payload, due_at=due_at, attempts=attempts))


def claim_due_replies(session: Session, channel: str, now: datetime, lease_until: datetime,
                      limit: int) -> list[QueuedReply]:
    """Replies nobody is delivering, oldest first, each claimed for this caller until ``lease_until``.

    The claim is a conditional update, so two workers never both take the same reply.
    """
    rows = session.execute(
        select(PendingReply.id, PendingReply.channel, PendingReply.address, PendingReply.payload,
               PendingReply.created_at, PendingReply.due_at, PendingReply.attempts,
               PendingReply.state_version)
        .where(PendingReply.channel == channel, PendingReply.due_at <= now)
        .order_by(PendingReply.id).limit(limit)
    ).all()
    claimed: list[QueuedReply] = []
    for row in rows:
        taken = session.execute(
            update(PendingReply)
            .where(PendingReply.id == row.id, PendingReply.due_at == row.due_at)
            .values(due_at=lease_until)
            .returning(PendingReply.id)
        ).first()
        if taken is not None:
            claimed.append(QueuedReply(row.id, row.channel, row.address, dict(row.payload),
                                       row.created_at, row.attempts, row.state_version))
    return claimed


# Conversation state


def load_state(session: Session, participant_id: str) -> StoredState | None:
    row = _run(session, "load_state", lambda _: (
        select(_states.c.data, _states.c.version)
        .where(_states.c.participant_id == bindparam("participant_id"))
    ), {"participant_id": participant_id}).first()
    if row is None:
        return None
    return StoredState(data=row.data, version=row.version)


def save_state(
    session: Session,
    participant_id: str,
    data: dict[str, Any],
    expected_version: int | None,
    now: datetime,
) -> int:
    """Store a conversation state and return its new version.

    ``expected_version`` is the version that was loaded (None: there was no state).
    If another writer saved in between, nothing is written and ConcurrentUpdateError
    is raised, so the caller can reload and retry its turn.
    """
    if expected_version is None:
        inserted = _run(session, "create_state", lambda dialect: (
            _insert_for(dialect, _states)
            .values(participant_id=bindparam("state_of"), data=bindparam("new_data"), version=1,
                    updated_at=bindparam("now"))
            .on_conflict_do_nothing(index_elements=["participant_id"])
            .returning(_states.c.version)
        ), {"state_of": participant_id, "new_data": data, "now": now}).scalar_one_or_none()
        if inserted is None:
            raise ConcurrentUpdateError(
                f"conversation state of {participant_id} was created by another writer"
            )
        return int(inserted)
    updated = _run(session, "update_state", lambda _: (
        update(_states)
        .where(_states.c.participant_id == bindparam("state_of"),
               _states.c.version == bindparam("expected"))
        .values(data=bindparam("new_data"), version=bindparam("expected") + 1,
                updated_at=bindparam("now"))
        .returning(_states.c.version)
    ), {"state_of": participant_id, "expected": expected_version, "new_data": data,
        "now": now}).scalar_one_or_none()
    if updated is None:
        raise ConcurrentUpdateError(
            f"conversation state of {participant_id} is no longer at version {expected_version}"
        )
    return int(updated)


# Consent


def record_consent(
    session: Session,
    participant_id: str,
    kind: str,
    granted: bool,
    age_band: str | None,
    notice_version: int,
    now: datetime,
) -> ConsentRecord:
    """Append a consent decision; earlier decisions stay as they were."""
    if kind not in CONSENT_KINDS:
        raise ValueError(f"unknown consent kind {kind!r}: expected one of {CONSENT_KINDS}")
    record = ConsentRecord(
        participant_id=participant_id,
        kind=kind,
        granted=granted,
        age_band=age_band,
        notice_version=notice_version,
        recorded_at=now,
    )
    session.add(record)
    session.flush()
    return record


# Answers


_ANSWER_KEY = ("participant_id", "campaign_id", "question_id")
_PROFILE = ("age_band", "city", "neighbourhood")


def _profile_now(column: str) -> Any:
    """What the participant's profile says at the moment the statement runs."""
    return (select(_participants.c[column])
            .where(_participants.c.id == bindparam("participant_id")).scalar_subquery())


def save_answer(session: Session, answer: AnswerIn) -> int:
    """Store an answer, replacing the participant's earlier answer to the same question; its id.

    The answer keeps the age band, city and neighbourhood its author has now, read in the same
    statement, so digests count it where it was given even if the author moves later.
    """
    values = {
        "participant_id": answer.participant_id,
        "campaign_id": answer.campaign_id,
        "campaign_version": answer.campaign_version,
        "question_id": answer.question_id,
        "number": answer.number,
        "text": answer.text,
        "scrubbed_text": answer.scrubbed_text,
        "skipped": answer.skipped,
        "language": answer.language,
        "answered_at": answer.answered_at,
        "topic": answer.topic,
        "topic_confidence": answer.topic_confidence,
        "understanding_pending": answer.understanding_pending,
        "mentions": [list(pair) for pair in answer.mentions] or None,
    }

    def build(dialect: str) -> Executable:
        insert = _insert_for(dialect, _answers).values(
            {**{name: bindparam(name) for name in values},
             **{column: _profile_now(column) for column in _PROFILE}})
        return insert.on_conflict_do_update(
            index_elements=list(_ANSWER_KEY),
            set_={name: insert.excluded[name] for name in (*values, *_PROFILE) if name not in _ANSWER_KEY},
        ).returning(_answers.c.id)

    # The profile is read by the statement itself: pending profile changes must be in the database.
    session.flush()
    answer_id = int(_run(session, "save_answer", build, values).scalar_one())
    # An answer given again replaces its options too.
    _run(session, "clear_options", lambda _: delete(_options).where(
        _options.c.answer_id == bindparam("answer_id")), {"answer_id": answer_id})
    chosen = list(dict.fromkeys(answer.option_ids or ()))
    if chosen:
        _run(session, "add_options", lambda _: _options.insert().values(
            answer_id=bindparam("answer_id"), option_id=bindparam("option_id"),
            position=bindparam("position")),
            [{"answer_id": answer_id, "option_id": option_id, "position": position}
             for position, option_id in enumerate(chosen)])
    return answer_id


def record_completion(session: Session, participant_id: str, campaign_id: str, campaign_version: int,
                      now: datetime) -> None:
    """A participant finished a campaign; finishing it again (a new version) moves the date."""
    values = {"participant_id": participant_id, "campaign_id": campaign_id,
              "campaign_version": campaign_version, "completed_at": now}
    session.flush()
    insert = _insert_for(session.get_bind().dialect.name, _completions).values(
        {**{name: bindparam(name) for name in values},
         **{column: _profile_now(column) for column in _PROFILE}})
    session.execute(insert.on_conflict_do_update(
        index_elements=["participant_id", "campaign_id"],
        set_={name: insert.excluded[name] for name in ("campaign_version", "completed_at", *_PROFILE)},
    ), values)


def answers_for(session: Session, participant_id: str) -> list[Answer]:
    return list(
        session.scalars(
            select(Answer)
            .where(Answer.participant_id == participant_id)
            .order_by(Answer.answered_at, Answer.id)
        )
    )


def answers_pending_understanding(session: Session, limit: int) -> list[Answer]:
    """The oldest free-text answers whose topic is still to be classified.

    On PostgreSQL the rows are locked and rows locked by another worker are skipped,
    so several workers can share the queue without classifying an answer twice.
    """
    return list(
        session.scalars(
            select(Answer)
            .where(Answer.understanding_pending)
            .order_by(Answer.answered_at, Answer.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def set_answer_topic(session: Session, answer_id: int, topic: str | None, confidence: float | None,
                     mentions: Sequence[tuple[str, str]] = ()) -> bool:
    """Tag an answer with its topic and what it mentions, and take it off the pending queue.

    False when the answer no longer exists (its author erased their data meanwhile).
    """
    updated = session.execute(
        update(Answer)
        .where(Answer.id == answer_id)
        .values(topic=topic, topic_confidence=confidence, understanding_pending=False,
                mentions=[list(pair) for pair in mentions] or None)
        .returning(Answer.id)
    ).first()
    return updated is not None


# Campaigns


def upsert_campaign(
    session: Session,
    campaign_id: str,
    version: int,
    definition: dict[str, Any],
    source_hash: str,
    now: datetime,
) -> bool:
    """Store a campaign version: True when newly stored, False when already there.

    An (id, version) is immutable once stored, since answers refer to it: the same
    pair with a different source hash raises CampaignVersionConflictError.
    """
    inserted = session.execute(
        _insert_for(session.get_bind().dialect.name, Campaign)
        .values(
            id=campaign_id,
            version=version,
            definition=definition,
            source_hash=source_hash,
            loaded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id", "version"])
        .returning(Campaign.id)
    ).first()
    if inserted is not None:
        return True
    stored_hash = session.execute(
        select(Campaign.source_hash).where(Campaign.id == campaign_id, Campaign.version == version)
    ).scalar_one()
    if stored_hash != source_hash:
        raise CampaignVersionConflictError(
            f"campaign {campaign_id!r} version {version} is already stored with different "
            f"content (hash {stored_hash}, now {source_hash}): increase the campaign's version"
        )
    return False


# Privacy


def erase_participant(session: Session, participant_id: str, *,
                      keep_safeguarding: bool = False) -> ErasureReport:
    """Delete a participant and everything attached to them; report what went.

    With ``keep_safeguarding`` (someone turned away or refusing consent, not asking for erasure),
    a message already passed to safeguarding staff stays, with what lets staff reply to it (the
    pseudonymous participant and the chat identity); everything else goes.
    """
    # The results pages' kept counts may include this person: they are counted again.
    session.execute(delete(ResultSnapshot))
    if keep_safeguarding and session.scalar(
            select(func.count()).where(SafeguardingAlert.participant_id == participant_id)):
        return _erase_all_but_safeguarding(session, participant_id)

    def erase(entity: Any, column: Any) -> int:
        deleted = session.execute(delete(entity).where(column == participant_id).returning(column))
        return len(deleted.all())

    # Children first, so each count is what this erasure removed rather than what the
    # ON DELETE CASCADE would have removed silently.
    handled = erase(HandledMessage, HandledMessage.participant_id)
    addresses = select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
        ChannelIdentity.participant_id == participant_id)
    replies = len(session.execute(
        delete(PendingReply)
        .where(tuple_(PendingReply.channel, PendingReply.address).in_(addresses))
        .returning(PendingReply.id)
    ).all())
    answers = erase(Answer, Answer.participant_id)
    # Their steps and deliveries (staff notes, replies waiting) go with them by ON DELETE CASCADE.
    alerts = erase(SafeguardingAlert, SafeguardingAlert.participant_id)
    completions = erase(SurveyCompletion, SurveyCompletion.participant_id)
    states = erase(ConversationState, ConversationState.participant_id)
    consents = erase(ConsentRecord, ConsentRecord.participant_id)
    identities = erase(ChannelIdentity, ChannelIdentity.participant_id)
    participants = erase(Participant, Participant.id)
    return ErasureReport(
        participants=participants,
        channel_identities=identities,
        consent_records=consents,
        conversation_states=states,
        answers=answers,
        survey_completions=completions,
        handled_messages=handled,
        pending_replies=replies,
        safeguarding_alerts=alerts,
    )


def _erase_all_but_safeguarding(session: Session, participant_id: str) -> ErasureReport:
    def erase(entity: Any, column: Any) -> int:
        deleted = session.execute(delete(entity).where(column == participant_id).returning(column))
        return len(deleted.all())

    report = ErasureReport(
        participants=0, channel_identities=0,
        handled_messages=erase(HandledMessage, HandledMessage.participant_id),
        pending_replies=0,
        answers=erase(Answer, Answer.participant_id),
        survey_completions=erase(SurveyCompletion, SurveyCompletion.participant_id),
        conversation_states=erase(ConversationState, ConversationState.participant_id),
        consent_records=erase(ConsentRecord, ConsentRecord.participant_id),
    )
    session.execute(update(Participant).where(Participant.id == participant_id).values(
        language=None, age_band=None, city=None, neighbourhood=None))
    return report


def participant_data(session: Session, participant_id: str) -> ParticipantData:
    participant = _participant(session, participant_id)
    channels = session.scalars(
        select(ChannelIdentity.channel)
        .where(ChannelIdentity.participant_id == participant_id)
        .distinct()
        .order_by(ChannelIdentity.channel)
    ).all()
    consents = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.participant_id == participant_id)
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    ).all()
    answer_counts = session.execute(
        select(Answer.campaign_id, func.count())
        .where(Answer.participant_id == participant_id)
        .group_by(Answer.campaign_id)
        .order_by(Answer.campaign_id)
    ).all()
    return ParticipantData(
        participant_id=participant.id,
        created_at=participant.created_at,
        language=participant.language,
        age_band=participant.age_band,
        city=participant.city,
        neighbourhood=participant.neighbourhood,
        stopped_at=participant.stopped_at,
        channels=tuple(channels),
        consents=tuple(
            ConsentEntry(
                kind=record.kind,
                granted=record.granted,
                age_band=record.age_band,
                notice_version=record.notice_version,
                recorded_at=record.recorded_at,
            )
            for record in consents
        ),
        answers_per_campaign={campaign_id: count for campaign_id, count in answer_counts},
    )


# Send budget


def reserve_slots(session: Session, key: str, now: float, count: int, interval: float,
                  idle_only: bool) -> float | None:
    """Reserve ``count`` send slots ``interval`` apart; returns when the first one is (epoch s).

    One conditional update, so concurrent workers get slots that never overlap. With
    ``idle_only`` the slots are taken only if nobody has reserved beyond the next slot (bulk
    sends wait while anyone has replies queued); None if not taken. The budget's row is created
    the first time it is missing (one statement more, once).
    """
    span = count * interval
    params = {"budget": key, "now": now, "interval": interval, "span": span}

    def reserve() -> float | None:
        after = _run(session, "reserve_idle" if idle_only else "reserve", lambda _: (
            update(_budgets)
            .where(_budgets.c.key == bindparam("budget"),
                   *([_budgets.c.next_slot <= bindparam("now") + bindparam("interval")]
                     if idle_only else []))
            .values(next_slot=case((_budgets.c.next_slot > bindparam("now"), _budgets.c.next_slot),
                                   else_=bindparam("now")) + bindparam("span"))
            .returning(_budgets.c.next_slot)
        ), params).scalar_one_or_none()
        return None if after is None else float(after) - span

    first = reserve()
    if first is not None:
        return first
    created = _run(session, "create_budget", lambda dialect: (
        _insert_for(dialect, _budgets).values(key=bindparam("budget"), next_slot=bindparam("start"))
        .on_conflict_do_nothing(index_elements=["key"])
    ), {"budget": key, "start": now}).rowcount
    # Not created now: the row was there, and bulk found the budget busy.
    return reserve() if created else None


def pause_budget(session: Session, key: str, until: float) -> None:
    """Telegram asked to wait (429): no slot before ``until``, for every worker."""
    _run(session, "pause_budget", lambda _: (
        update(_budgets)
        .where(_budgets.c.key == bindparam("budget"), _budgets.c.next_slot < bindparam("pause_until"))
        .values(next_slot=bindparam("pause_until"))
    ), {"budget": key, "pause_until": until})

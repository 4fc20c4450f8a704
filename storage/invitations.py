"""The broadcaster's table: one row per message of a campaign to one participant.

A row moves queued -> claimed (a worker's batch, for a short lease) -> sending (written and committed
just before the message leaves) -> sent, failed or blocked; `dropped` when it should not go (the
participant stopped, the campaign closed, they started on their own). A row Telegram refused for
now (its flood limit, no connection) goes back to `queued` with the reason, for a later round; only
`sent` means Telegram took the message, and a row never leaves `sent`. Claims take rows with
FOR UPDATE SKIP LOCKED on PostgreSQL and a conditional update everywhere, so two workers never hold
the same row; a row in `sending` is never claimed again, so a message is never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    CampaignRun,
    ChannelIdentity,
    ConsentRecord,
    Invitation,
    Participant,
    Participation,
    SurveyCompletion,
)
from storage.repositories import _insert_for


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    campaign_id: str
    campaign_version: int
    kind: str
    participant_id: str
    address: str | None
    city: str | None
    language: str | None
    stopped: bool
    closed: bool
    started: bool
    completed: bool


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast reaches in one city (empty tuples: no restriction)."""

    city: str
    neighbourhoods: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def _eligible(campaign_id: str, audience: Audience, channel: str, *,
              not_started: bool = True) -> list[object]:
    """Who the campaign is for in this city: consented, reachable, not stopped (and, to invite,
    not already taking part)."""
    conditions: list[object] = [
        Participant.city == audience.city,
        Participant.stopped_at.is_(None),
        exists().where(ConsentRecord.participant_id == Participant.id,
                       ConsentRecord.kind == "participation", ConsentRecord.granted),
        exists().where(ChannelIdentity.participant_id == Participant.id,
                       ChannelIdentity.channel == channel),
    ]
    if not_started:
        conditions.append(~exists().where(Participation.participant_id == Participant.id,
                                          Participation.campaign_id == campaign_id))
    if audience.neighbourhoods:
        conditions.append(Participant.neighbourhood.in_(audience.neighbourhoods))
    if audience.age_bands:
        conditions.append(Participant.age_band.in_(audience.age_bands))
    if audience.languages:
        conditions.append(Participant.language.in_(audience.languages))
    return conditions


def count_eligible(session: Session, campaign_id: str, audience: Audience, channel: str) -> int:
    """Participants of the target who have no invitation yet (nothing is written)."""
    return int(session.scalar(
        select(func.count()).select_from(Participant)
        .where(*_eligible(campaign_id, audience, channel),  # type: ignore[arg-type]
               ~exists().where(Invitation.participant_id == Participant.id,
                               Invitation.campaign_id == campaign_id,
                               Invitation.kind == "invitation"))) or 0)


def queue_invitations(session: Session, campaign_id: str, version: int, audience: Audience,
                      channel: str, due_at: datetime, now: datetime) -> int:
    """Queue an invitation for everyone in the target who has none: one INSERT ... SELECT."""
    chosen = select(literal(campaign_id), literal(version), Participant.id, literal("invitation"),
                    literal("queued"), literal(due_at, Invitation.due_at.type), literal(0),
                    literal(now, Invitation.created_at.type)).where(
        *_eligible(campaign_id, audience, channel))  # type: ignore[arg-type]
    return _insert_from(session, chosen)


def queue_reminders(session: Session, campaign_id: str, city: str, invited_before: datetime,
                    due_at: datetime, now: datetime) -> int:
    """The one reminder, for those of this city invited long enough ago who have not finished."""
    invitation = Invitation.__table__.alias("first")
    chosen = (
        select(literal(campaign_id), invitation.c.campaign_version, invitation.c.participant_id,
               literal("reminder"), literal("queued"), literal(due_at, Invitation.due_at.type),
               literal(0), literal(now, Invitation.created_at.type))
        .select_from(invitation.join(Participant, Participant.id == invitation.c.participant_id))
        .where(invitation.c.campaign_id == campaign_id, invitation.c.kind == "invitation",
               invitation.c.status == "sent", invitation.c.sent_at <= invited_before,
               Participant.city == city, Participant.stopped_at.is_(None),
               ~exists().where(SurveyCompletion.participant_id == invitation.c.participant_id,
                               SurveyCompletion.campaign_id == campaign_id))
    )
    return _insert_from(session, chosen)


def _insert_from(session: Session, chosen: object) -> int:
    columns = ["campaign_id", "campaign_version", "participant_id", "kind", "status", "due_at",
               "attempts", "created_at"]
    insert = _insert_for(session.get_bind().dialect.name, Invitation).from_select(
        columns, chosen)  # type: ignore[arg-type]
    result = session.execute(
        insert.on_conflict_do_nothing(index_elements=["campaign_id", "participant_id", "kind"])
        .returning(Invitation.id))
    return len(result.all())


def _claimable(now: datetime) -> object:
    return or_(and_(Invitation.status == "queued", Invitation.due_at <= now),
               and_(Invitation.status == "claimed", Invitation.claimed_until < now))


def claim(session: Session, worker: str, now: datetime, lease: timedelta, limit: int,
          channel: str, campaign_id: str | None = None) -> list[Claimed]:
    """Take up to `limit` due rows for this worker, with what deciding and sending them needs."""
    candidates = (select(Invitation.id).where(_claimable(now))  # type: ignore[arg-type]
                  .order_by(Invitation.due_at, Invitation.id).limit(limit)
                  .with_for_update(skip_locked=True))
    if campaign_id is not None:
        candidates = candidates.where(Invitation.campaign_id == campaign_id)
    ids = list(session.scalars(candidates).all())
    if not ids:
        return []
    taken = list(session.scalars(
        update(Invitation).where(Invitation.id.in_(ids), _claimable(now))  # type: ignore[arg-type]
        .values(status="claimed", claimed_by=worker, claimed_until=now + lease)
        .returning(Invitation.id)).all())
    if not taken:
        return []
    started = exists().where(Participation.participant_id == Invitation.participant_id,
                             Participation.campaign_id == Invitation.campaign_id)
    completed = exists().where(SurveyCompletion.participant_id == Invitation.participant_id,
                               SurveyCompletion.campaign_id == Invitation.campaign_id)
    rows = session.execute(
        select(Invitation.id, Invitation.campaign_id, Invitation.campaign_version, Invitation.kind,
               Invitation.participant_id, ChannelIdentity.external_id, Participant.city,
               Participant.language, Participant.stopped_at.is_not(None),
               CampaignRun.closed_at.is_not(None), started, completed)
        .join(Participant, Participant.id == Invitation.participant_id)
        .outerjoin(ChannelIdentity, and_(ChannelIdentity.participant_id == Invitation.participant_id,
                                         ChannelIdentity.channel == channel))
        .outerjoin(CampaignRun, CampaignRun.campaign_id == Invitation.campaign_id)
        .where(Invitation.id.in_(taken)).order_by(Invitation.due_at, Invitation.id)).all()
    return [Claimed(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bool(row[8]),
                    bool(row[9]), bool(row[10]), bool(row[11])) for row in rows]


def mark_sending(session: Session, ids: Sequence[int], worker: str) -> set[int]:
    """Just before sending: the rows this worker still holds (a lost claim is not sent)."""
    return set(session.scalars(
        update(Invitation).where(Invitation.id.in_(ids), Invitation.status == "claimed",
                                 Invitation.claimed_by == worker)
        .values(status="sending", attempts=Invitation.attempts + 1)
        .returning(Invitation.id)).all())


def settle(session: Session, outcomes: Iterable[tuple[int, str]], now: datetime) -> None:
    """Record how sends ended: sent, failed, blocked or dropped."""
    by_status: dict[str, list[int]] = {}
    for invitation_id, status in outcomes:
        by_status.setdefault(status, []).append(invitation_id)
    for status, ids in by_status.items():
        values: dict[str, object] = {"status": status, "claimed_until": None}
        if status == "sent":
            values["sent_at"] = now
        session.execute(update(Invitation).where(Invitation.id.in_(ids)).values(**values))


def release(session: Session, ids: Sequence[int], due_at: datetime, reason: str | None = None, *,
            attempt_counted: bool = True) -> None:
    """Back in the queue until `due_at`: quiet hours (no reason), or Telegram refused it for now
    (`reason`: its flood limit, or unreachable). A refusal by the flood limit is Telegram's pace,
    not a failed attempt (`attempt_counted=False`): it never makes an invitation fail."""
    if ids:
        values: dict[str, object] = {"status": "queued", "claimed_by": None, "claimed_until": None,
                                     "due_at": due_at, "retry_reason": reason}
        if not attempt_counted:
            values["attempts"] = Invitation.attempts - 1
        session.execute(update(Invitation).where(Invitation.id.in_(ids)).values(**values))


def counts(session: Session, campaign_id: str | None = None) -> dict[str, int]:
    """Rows per status (invitations and reminders together). Queued rows that Telegram refused
    for now are counted under their reason instead: `telegram_limit` (its flood limit) or
    `unreachable`."""
    statement = (select(Invitation.status, Invitation.retry_reason, func.count())
                 .group_by(Invitation.status, Invitation.retry_reason))
    if campaign_id is not None:
        statement = statement.where(Invitation.campaign_id == campaign_id)
    found: dict[str, int] = {}
    for status, reason, n in session.execute(statement).all():
        key = reason if status == "queued" and reason is not None else status
        found[key] = found.get(key, 0) + int(n)
    return found


def next_due(session: Session, campaign_id: str | None = None) -> datetime | None:
    statement = select(func.min(Invitation.due_at)).where(Invitation.status == "queued")
    if campaign_id is not None:
        statement = statement.where(Invitation.campaign_id == campaign_id)
    return session.scalar(statement)


def attempts_of(session: Session, invitation_id: int) -> int:
    return int(session.scalar(select(Invitation.attempts).where(Invitation.id == invitation_id)) or 0)

"""Councils' replies to young people, and how many received them.

The reply goes through the broadcaster's table (invitations of kind ``council_reply``): one row per
participant, claimed and sent once, at the deployment's rate, outside quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Exists

from storage.invitations import _insert_from
from storage.models import Answer, ChannelIdentity, CouncilReply, Invitation, Participant
from storage.repositories import _insert_for

KIND = "council_reply"


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    council_id: str
    campaign_id: str
    city: str
    text_fr: str
    text_en: str
    created_at: datetime

    def text(self, language: str | None) -> str:
        return self.text_en if language == "en" else self.text_fr


def record_reply(session: Session, council_id: str, campaign_id: str, city: str, text_fr: str,
                 text_en: str, now: datetime) -> int | None:
    """Keep a council's reply; None when that council already replied about that campaign."""
    inserted = session.execute(
        _insert_for(session.get_bind().dialect.name, CouncilReply)
        .values(council_id=council_id, campaign_id=campaign_id, city=city, text_fr=text_fr,
                text_en=text_en, created_at=now)
        .on_conflict_do_nothing(index_elements=["council_id", "campaign_id"])
        .returning(CouncilReply.id)).first()
    return None if inserted is None else int(inserted[0])


def _took_part(campaign_id: str, city: str) -> Exists:
    """The participant answered this campaign from this city."""
    return exists().where(Answer.participant_id == Participant.id, Answer.campaign_id == campaign_id,
                          Answer.city == city)


def queue_reply(session: Session, campaign_id: str, version: int, city: str, channel: str,
                due_at: datetime, now: datetime) -> int:
    """One message for each participant of the city who took part in the campaign, can be reached on
    ``channel`` and did not /stop; the broadcaster sends them. Returns how many were queued."""
    chosen = select(literal(campaign_id), literal(version), Participant.id, literal(KIND),
                    literal("queued"), literal(due_at, Invitation.due_at.type), literal(0),
                    literal(now, Invitation.created_at.type)).where(
        Participant.stopped_at.is_(None), _took_part(campaign_id, city),
        exists().where(ChannelIdentity.participant_id == Participant.id, ChannelIdentity.channel == channel))
    return _insert_from(session, chosen)


def reply_for(session: Session, campaign_id: str, city: str | None) -> Reply | None:
    """The reply a participant of ``city`` gets about a campaign (any city's if they moved since)."""
    rows = session.scalars(select(CouncilReply).where(CouncilReply.campaign_id == campaign_id)
                           .order_by(CouncilReply.id)).all()
    row = next((r for r in rows if r.city == city), rows[0] if rows else None)
    if row is None:
        return None
    return Reply(row.id, row.council_id, row.campaign_id, row.city, row.text_fr, row.text_en,
                 row.created_at)


def latest_reach(session: Session, council_id: str, since: datetime, before: datetime) -> int | None:
    """How many young people received the council's latest reply made between ``since`` and
    ``before``; None when it made none then."""
    reply = session.scalars(select(CouncilReply).where(CouncilReply.council_id == council_id,
                                                       CouncilReply.created_at >= since,
                                                       CouncilReply.created_at < before)
                            .order_by(CouncilReply.created_at.desc(), CouncilReply.id.desc())
                            .limit(1)).first()
    if reply is None:
        return None
    return int(session.scalar(
        select(func.count()).select_from(Invitation)
        .join(Participant, Participant.id == Invitation.participant_id)
        .where(Invitation.campaign_id == reply.campaign_id, Invitation.kind == KIND,
               Invitation.status == "sent", _took_part(reply.campaign_id, reply.city))) or 0)

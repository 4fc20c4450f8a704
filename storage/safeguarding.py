"""Safeguarding alerts, what staff did with them, and the messages about them still to deliver.

Like the other repositories: every function takes the caller's Session and never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Answer,
    ChannelIdentity,
    SafeguardingAlert,
    SafeguardingDelivery,
    SafeguardingStep,
    TurnedAway,
)

# Unambiguous letters and digits (no 0/O, 1/I/L): staff read references aloud and type them.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_ref() -> str:
    """A pseudonymous alert reference such as ``SG-7K3F-9QXZ``, unrelated to any identity."""
    body = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"SG-{body[:4]}-{body[4:]}"


@dataclass(frozen=True)
class Destination:
    kind: str  # "telegram" or "email"
    address: str


@dataclass(frozen=True)
class DueDelivery:
    id: int
    kind: str
    address: str
    text: str | None
    attempts: int
    ref: str
    alert_id: int


def raise_alert(session: Session, *, participant_id: str, category: str, categories: Sequence[str],
                message: str, scrubbed: str, city: str | None, language: str, now: datetime,
                destinations: Sequence[Destination], ref: Callable[[], str] = new_ref) -> str:
    """Keep an alert and queue it for every staff destination; returns its reference."""
    alert = SafeguardingAlert(ref=ref(), participant_id=participant_id, category=category,
                              categories=list(categories), message=message, scrubbed=scrubbed,
                              city=city, language=language, status="open", created_at=now)
    session.add(alert)
    session.flush()
    session.add(SafeguardingStep(alert_id=alert.id, at=now, actor="bot", action="raised",
                                 note=", ".join(categories)))
    for destination in destinations:
        session.add(SafeguardingDelivery(alert_id=alert.id, kind=destination.kind,
                                         address=destination.address, attempts=0, due_at=now))
    return alert.ref


def alerts(session: Session, status: str | None = None) -> list[SafeguardingAlert]:
    query = select(SafeguardingAlert).order_by(SafeguardingAlert.created_at, SafeguardingAlert.id)
    if status is not None:
        query = query.where(SafeguardingAlert.status == status)
    return list(session.scalars(query))


def alert(session: Session, ref: str) -> SafeguardingAlert | None:
    return session.scalars(select(SafeguardingAlert).where(SafeguardingAlert.ref == ref.upper())
                           ).one_or_none()


def steps(session: Session, alert_id: int) -> list[SafeguardingStep]:
    return list(session.scalars(select(SafeguardingStep).where(SafeguardingStep.alert_id == alert_id)
                                .order_by(SafeguardingStep.at, SafeguardingStep.id)))


def deliveries(session: Session, alert_id: int) -> list[SafeguardingDelivery]:
    return list(session.scalars(select(SafeguardingDelivery)
                                .where(SafeguardingDelivery.alert_id == alert_id)
                                .order_by(SafeguardingDelivery.id)))


def record_step(session: Session, alert_id: int, actor: str, action: str, now: datetime,
                note: str | None = None) -> None:
    session.add(SafeguardingStep(alert_id=alert_id, at=now, actor=actor, action=action, note=note))


def queue_relay(session: Session, alert_id: int, text: str, now: datetime) -> None:
    """A staff reply for the young person, delivered through the bot like a staff alert."""
    session.add(SafeguardingDelivery(alert_id=alert_id, kind="participant", address="", text=text,
                                     attempts=0, due_at=now))


def close(session: Session, alert_id: int) -> None:
    session.execute(update(SafeguardingAlert).where(SafeguardingAlert.id == alert_id)
                    .values(status="closed"))


def claim_due(session: Session, now: datetime, lease_until: datetime,
              limit: int = 50) -> list[DueDelivery]:
    """Deliveries nobody is working on, oldest first, each claimed until ``lease_until``."""
    rows = session.execute(
        select(SafeguardingDelivery.id, SafeguardingDelivery.kind, SafeguardingDelivery.address,
               SafeguardingDelivery.text, SafeguardingDelivery.attempts, SafeguardingDelivery.due_at,
               SafeguardingAlert.ref, SafeguardingAlert.id.label("alert_id"))
        .join(SafeguardingAlert, SafeguardingAlert.id == SafeguardingDelivery.alert_id)
        .where(SafeguardingDelivery.delivered_at.is_(None), SafeguardingDelivery.due_at <= now)
        .order_by(SafeguardingDelivery.id).limit(limit)
    ).all()
    claimed: list[DueDelivery] = []
    for row in rows:
        taken = session.execute(
            update(SafeguardingDelivery)
            .where(SafeguardingDelivery.id == row.id, SafeguardingDelivery.due_at == row.due_at)
            .values(due_at=lease_until).returning(SafeguardingDelivery.id)).first()
        if taken is not None:
            claimed.append(DueDelivery(row.id, row.kind, row.address, row.text, row.attempts, row.ref,
                                       row.alert_id))
    return claimed


def delivered(session: Session, delivery_id: int, now: datetime) -> None:
    session.execute(update(SafeguardingDelivery).where(SafeguardingDelivery.id == delivery_id)
                    .values(delivered_at=now, last_error=None))


def retry_later(session: Session, delivery_id: int, due_at: datetime, error: str) -> None:
    session.execute(update(SafeguardingDelivery).where(SafeguardingDelivery.id == delivery_id)
                    .values(due_at=due_at, attempts=SafeguardingDelivery.attempts + 1,
                            last_error=error[:500]))


def participant_address(session: Session, alert_id: int) -> tuple[str, str] | None:
    """The channel and chat of the young person behind an alert, for relaying a staff reply."""
    row = session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id)
        .join(SafeguardingAlert, SafeguardingAlert.participant_id == ChannelIdentity.participant_id)
        .where(SafeguardingAlert.id == alert_id).order_by(ChannelIdentity.id).limit(1)).first()
    return (row.channel, row.external_id) if row is not None else None


def passed_to_staff(session: Session, participant_id: str) -> list[datetime]:
    """When messages of this participant were passed to safeguarding staff (for /mydata)."""
    return list(session.scalars(select(SafeguardingAlert.created_at)
                                .where(SafeguardingAlert.participant_id == participant_id)
                                .order_by(SafeguardingAlert.created_at)))


@dataclass(frozen=True)
class Purged:
    answers: int
    alerts: int
    relays: int
    turned_away: int


def purge(session: Session, cutoff: datetime, now: datetime) -> Purged:
    """Past the retention period only scrubbed text remains; expired cool-downs go."""
    answers = session.execute(
        update(Answer).where(Answer.answered_at < cutoff, Answer.text.is_not(None))
        .values(text=None).returning(Answer.id)).all()
    alerts_ = session.execute(
        update(SafeguardingAlert).where(SafeguardingAlert.created_at < cutoff,
                                        SafeguardingAlert.message.is_not(None))
        .values(message=None).returning(SafeguardingAlert.id)).all()
    relays = session.execute(
        update(SafeguardingDelivery).where(SafeguardingDelivery.delivered_at < cutoff,
                                           SafeguardingDelivery.text.is_not(None))
        .values(text=None).returning(SafeguardingDelivery.id)).all()
    expired = session.execute(delete(TurnedAway).where(TurnedAway.until <= now)
                              .returning(TurnedAway.key)).all()
    return Purged(len(answers), len(alerts_), len(relays), len(expired))


def turn_away(session: Session, key: str, until: datetime) -> None:
    session.merge(TurnedAway(key=key, until=until))


def turned_away_until(session: Session, key: str, now: datetime) -> datetime | None:
    until = session.scalars(select(TurnedAway.until).where(TurnedAway.key == key)).one_or_none()
    return until if until is not None and until > now else None

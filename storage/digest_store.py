"""Digest deliveries: queued once per council, period and channel; claimed by one worker at a time.

Like the other repositories, every function takes the caller's Session and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import DigestDelivery
from storage.repositories import _insert_for

QUEUED, SENT = "queued", "sent"


@dataclass(frozen=True)
class QueuedDigest:
    id: int
    council_id: str
    period_start: datetime
    period_end: datetime
    channel: str
    content: bytes
    summary: dict[str, Any]
    attempts: int
    progress: int


def queue_digest(session: Session, council_id: str, start: datetime, end: datetime, channel: str,
                 content: bytes, summary: dict[str, Any], now: datetime) -> bool:
    """Keep a built digest until it is delivered: True when queued now, False when that council's
    digest for that period and channel already exists (built by another worker or an earlier run)."""
    inserted = session.execute(
        _insert_for(session.get_bind().dialect.name, DigestDelivery)
        .values(council_id=council_id, period_start=start, period_end=end, channel=channel,
                status=QUEUED, content=content, summary=summary, created_at=now, due_at=now,
                attempts=0, progress=0)
        .on_conflict_do_nothing(index_elements=["council_id", "period_start", "period_end", "channel"])
        .returning(DigestDelivery.id)
    ).first()
    return inserted is not None


def digest_known(session: Session, council_id: str, start: datetime, end: datetime) -> bool:
    """Whether a digest for this council and period was already queued (on any channel)."""
    return session.execute(
        select(DigestDelivery.id).where(DigestDelivery.council_id == council_id,
                                        DigestDelivery.period_start == start,
                                        DigestDelivery.period_end == end).limit(1)
    ).first() is not None


def last_period_end(session: Session, council_id: str, before: datetime) -> datetime | None:
    """Where the council's latest digest ending before ``before`` stopped."""
    return session.scalar(select(func.max(DigestDelivery.period_end))
                          .where(DigestDelivery.council_id == council_id,
                                 DigestDelivery.period_end < before))


def claim_due_digests(session: Session, now: datetime, lease_until: datetime,
                      limit: int = 20) -> list[QueuedDigest]:
    """Queued digests nobody is delivering, oldest first, each claimed until ``lease_until``.

    The claim is a conditional update, so two workers never both take the same digest.
    """
    rows = session.execute(
        select(DigestDelivery.id, DigestDelivery.due_at)
        .where(DigestDelivery.status == QUEUED, DigestDelivery.due_at <= now)
        .order_by(DigestDelivery.id).limit(limit)
    ).all()
    claimed = []
    for row in rows:
        taken = session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.id == row.id, DigestDelivery.due_at == row.due_at,
                   DigestDelivery.status == QUEUED)
            .values(due_at=lease_until)
            .returning(DigestDelivery.id)
        ).first()
        if taken is None:
            continue
        delivery = session.get(DigestDelivery, row.id)
        assert delivery is not None
        claimed.append(QueuedDigest(delivery.id, delivery.council_id, delivery.period_start,
                                    delivery.period_end, delivery.channel, delivery.content,
                                    dict(delivery.summary), delivery.attempts, delivery.progress))
    return claimed


def mark_digest_sent(session: Session, delivery_id: int, now: datetime) -> None:
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(status=SENT, sent_at=now, last_error=None))


def retry_digest_later(session: Session, delivery_id: int, due_at: datetime, attempts: int,
                       error: str, progress: int) -> None:
    session.execute(update(DigestDelivery).where(DigestDelivery.id == delivery_id)
                    .values(due_at=due_at, attempts=attempts, last_error=error[:1000], progress=progress))


def deliveries(session: Session, council_id: str | None = None) -> list[DigestDelivery]:
    query = select(DigestDelivery).order_by(DigestDelivery.id)
    if council_id is not None:
        query = query.where(DigestDelivery.council_id == council_id)
    return list(session.scalars(query))

"""Campaigns in the database: versions as published, what is offered now, who took part in which.

Like every repository module, functions take the caller's Session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Campaign, CampaignRun, Invitation, Participation
from storage.repositories import _insert_for


@dataclass(frozen=True, slots=True)
class StoredVersion:
    campaign_id: str
    version: int
    source: str | None
    source_hash: str
    partner_id: str | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    campaign_id: str
    version: int
    partner_id: str | None
    broadcast: bool
    position: int
    published_at: datetime
    closed_at: datetime | None
    # The schedule set over the file's (local wall-clock times), and when; None: the file's applies.
    opens_local: datetime | None = None
    closes_local: datetime | None = None
    scheduled_at: datetime | None = None


def _run_info(run: CampaignRun) -> RunInfo:
    return RunInfo(run.campaign_id, run.version, run.partner_id, run.broadcast, run.position,
                   run.published_at, run.closed_at, run.opens_local, run.closes_local, run.scheduled_at)


def store_version(session: Session, campaign_id: str, version: int, definition: dict[str, Any],
                  source_hash: str, source: str, partner_id: str | None, now: datetime) -> None:
    session.add(Campaign(id=campaign_id, version=version, definition=definition,
                         source_hash=source_hash, loaded_at=now, source=source, partner_id=partner_id))
    session.flush()


def stored_version(session: Session, campaign_id: str, version: int) -> StoredVersion | None:
    row = session.get(Campaign, (campaign_id, version))
    if row is None:
        return None
    return StoredVersion(row.id, row.version, row.source, row.source_hash, row.partner_id)


def stored_definition(session: Session, campaign_id: str, version: int) -> dict[str, Any] | None:
    row = session.get(Campaign, (campaign_id, version))
    return dict(row.definition) if row is not None else None


def highest_version(session: Session, campaign_id: str) -> int | None:
    return session.scalar(select(func.max(Campaign.version)).where(Campaign.id == campaign_id))


def versions_with_source(session: Session) -> list[StoredVersion]:
    """Every version a worker may need: the current ones, and older ones participants are pinned to."""
    rows = session.scalars(select(Campaign).where(Campaign.source.is_not(None))
                           .order_by(Campaign.id, Campaign.version)).all()
    return [StoredVersion(r.id, r.version, r.source, r.source_hash, r.partner_id) for r in rows]


def run(session: Session, campaign_id: str, *, lock: bool = False) -> RunInfo | None:
    statement = select(CampaignRun).where(CampaignRun.campaign_id == campaign_id)
    if lock:
        statement = statement.with_for_update()
    row = session.scalars(statement).one_or_none()
    return _run_info(row) if row is not None else None


def runs(session: Session) -> list[RunInfo]:
    rows = session.scalars(select(CampaignRun).order_by(CampaignRun.position)).all()
    return [_run_info(r) for r in rows]


def set_run(session: Session, campaign_id: str, version: int, partner_id: str | None, *,
            broadcast: bool, now: datetime, position: int | None = None) -> None:
    """Offer this version from now on (a new campaign goes after those already offered)."""
    existing = session.get(CampaignRun, campaign_id)
    if existing is not None:
        existing.version = version
        existing.partner_id = partner_id
        existing.broadcast = broadcast or existing.broadcast
        existing.published_at = now
        return
    if position is None:
        position = (session.scalar(select(func.max(CampaignRun.position))) or 0) + 1
    session.add(CampaignRun(campaign_id=campaign_id, version=version, partner_id=partner_id,
                            broadcast=broadcast, position=position, published_at=now, closed_at=None))
    session.flush()


def close_run(session: Session, campaign_id: str, now: datetime) -> bool:
    """Close a campaign; False when it was closed already. Unsent invitations are dropped."""
    closed = session.execute(
        update(CampaignRun).where(CampaignRun.campaign_id == campaign_id,
                                  CampaignRun.closed_at.is_(None))
        .values(closed_at=now).returning(CampaignRun.campaign_id)).first()
    if closed is None:
        return False
    session.execute(update(Invitation).where(Invitation.campaign_id == campaign_id,
                                             Invitation.status.in_(("queued", "claimed")))
                    .values(status="dropped"))
    return True


def set_schedule(session: Session, campaign_id: str, opens: datetime | None, closes: datetime | None,
                 now: datetime) -> None:
    """Replace the file's opening and closing times (local wall-clock times) from now on."""
    session.execute(update(CampaignRun).where(CampaignRun.campaign_id == campaign_id)
                    .values(opens_local=opens, closes_local=closes, scheduled_at=now))


def clear_schedule(session: Session, campaign_id: str) -> None:
    """The file's opening and closing times apply again."""
    session.execute(update(CampaignRun).where(CampaignRun.campaign_id == campaign_id)
                    .values(opens_local=None, closes_local=None, scheduled_at=None))


def runs_signature(session: Session) -> tuple[Any, ...]:
    """Changes whenever a campaign is published, republished, rescheduled or closed: workers then
    reload."""
    # Every run's row as it is (a deployment has tens of campaigns, not thousands): exact, even when
    # two changes fall within the same clock tick.
    rows = session.execute(select(CampaignRun.campaign_id, CampaignRun.version, CampaignRun.published_at,
                                  CampaignRun.closed_at, CampaignRun.opens_local, CampaignRun.closes_local,
                                  CampaignRun.scheduled_at).order_by(CampaignRun.campaign_id)).all()
    return tuple(tuple(row) for row in rows)


# Participations


def start_participation(session: Session, participant_id: str, campaign_id: str, version: int,
                        now: datetime) -> None:
    """The first start counts; starting again (after /back to the start, a restart) changes nothing."""
    dialect = session.get_bind().dialect.name
    session.execute(
        _insert_for(dialect, Participation)
        .values(participant_id=participant_id, campaign_id=campaign_id, campaign_version=version,
                started_at=now)
        .on_conflict_do_nothing(index_elements=["participant_id", "campaign_id"]))


def record_response(session: Session, participant_id: str, campaign_id: str, response: str,
                    now: datetime) -> None:
    """Start or Not now on an invitation (the first answer counts; a later Start overrides Not now)."""
    session.execute(
        update(Invitation)
        .where(Invitation.participant_id == participant_id, Invitation.campaign_id == campaign_id,
               Invitation.kind == "invitation",
               (Invitation.response.is_(None)) | (Invitation.response != "started"))
        .values(response=response, responded_at=now))


def stop_invitations(session: Session, participant_id: str) -> int:
    """The participant stopped all messages: nothing still waiting goes to them."""
    result = session.execute(
        update(Invitation).where(Invitation.participant_id == participant_id,
                                 Invitation.status.in_(("queued", "claimed")))
        .values(status="dropped").returning(Invitation.id))
    return len(result.all())

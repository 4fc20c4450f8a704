from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import CampaignVersionConflictError
from storage.models import Campaign, ConsentRecord
from storage.repositories import record_consent, upsert_campaign

DEFINITION = {"id": "transport-2026", "version": 1, "questions": [{"id": "how", "kind": "choice"}]}


def test_consent_decisions_are_appended_never_overwritten(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    later = now + timedelta(days=10)
    with sessions.begin() as session:
        record_consent(session, participant_id, "participation", True, "13-15", 1, now)
        record_consent(session, participant_id, "parental", True, "13-15", 1, now)
    with sessions.begin() as session:
        record_consent(session, participant_id, "participation", False, "13-15", 2, later)
    with sessions.begin() as session:
        records = session.scalars(select(ConsentRecord).order_by(ConsentRecord.id)).all()
    assert [(r.kind, r.granted, r.age_band, r.notice_version, r.recorded_at) for r in records] == [
        ("participation", True, "13-15", 1, now),
        ("parental", True, "13-15", 1, now),
        ("participation", False, "13-15", 2, later),
    ]


def test_only_known_consent_kinds_are_accepted(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with pytest.raises(ValueError, match="unknown consent kind 'newsletter'"), sessions.begin() as session:
        record_consent(session, participant_id, "newsletter", True, None, 1, now)
    # The database enforces the same rule for writers that bypass the repository.
    with pytest.raises(IntegrityError, match="ck_consent_records_kind"), sessions.begin() as session:
        session.add(
            ConsentRecord(
                participant_id=participant_id,
                kind="newsletter",
                granted=True,
                age_band=None,
                notice_version=1,
                recorded_at=now,
            )
        )


def test_a_campaign_version_is_stored_once(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        assert upsert_campaign(session, "transport-2026", 1, DEFINITION, "hash-a", now) is True
    with sessions.begin() as session:
        again = upsert_campaign(session, "transport-2026", 1, DEFINITION, "hash-a", now + timedelta(hours=1))
        assert again is False
    with sessions.begin() as session:
        (stored,) = session.scalars(select(Campaign)).all()
    assert (stored.id, stored.version, stored.source_hash) == ("transport-2026", 1, "hash-a")
    assert stored.definition == DEFINITION
    assert stored.loaded_at == now


def test_changed_content_under_the_same_version_is_refused(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with sessions.begin() as session:
        upsert_campaign(session, "transport-2026", 1, DEFINITION, "hash-a", now)
    changed = {**DEFINITION, "questions": []}
    with (
        pytest.raises(CampaignVersionConflictError, match=r"'transport-2026' version 1 .* increase"),
        sessions.begin() as session,
    ):
        upsert_campaign(session, "transport-2026", 1, changed, "hash-b", now)
    with sessions.begin() as session:
        assert upsert_campaign(session, "transport-2026", 2, changed, "hash-b", now) is True
        versions = session.execute(
            select(Campaign.version, Campaign.source_hash).order_by(Campaign.version)
        ).all()
    assert [tuple(row) for row in versions] == [(1, "hash-a"), (2, "hash-b")]

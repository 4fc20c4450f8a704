"""The results pages' aggregates kept between requests (a row per city and set of campaigns).

Counting every answer of a city takes seconds at 100,000 participants; the counts themselves are a
few thousand numbers. They are stored as JSON beside the highest answer id they include, so that a
page can tell in one indexed lookup whether answers arrived since.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import Answer, ResultSnapshot
from storage.reports import CityAggregates
from storage.repositories import _insert_for

ALL = "*"


@dataclass(frozen=True)
class Snapshot:
    aggregates: CityAggregates
    answer_mark: int
    computed_at: datetime


def key_of(campaign_ids: Sequence[str] | None) -> str:
    return ALL if campaign_ids is None else ",".join(sorted(set(campaign_ids)))


def answer_mark(session: Session) -> int:
    """The highest answer id so far (the primary key's index answers it at once)."""
    return int(session.scalar(select(func.max(Answer.id))) or 0)


def head(session: Session, city: str, key: str) -> tuple[int, datetime] | None:
    """The snapshot's answer mark and when it was computed, without its counts."""
    row = session.execute(select(ResultSnapshot.answer_mark, ResultSnapshot.computed_at)
                          .where(ResultSnapshot.city == city, ResultSnapshot.campaigns == key)).first()
    return (int(row[0]), row[1]) if row is not None else None


def load(session: Session, city: str, key: str) -> Snapshot | None:
    row = session.get(ResultSnapshot, (city, key))
    if row is None:
        return None
    return Snapshot(from_json(row.aggregates), row.answer_mark, row.computed_at)


def save(session: Session, city: str, key: str, aggregates: CityAggregates, mark: int,
         now: datetime) -> None:
    """Store (or replace) the snapshot; a concurrent writer's newer one is simply overwritten."""
    dialect = session.get_bind().dialect.name
    values = {"aggregates": to_json(aggregates), "answer_mark": mark, "computed_at": now}
    session.execute(_insert_for(dialect, ResultSnapshot).values(city=city, campaigns=key, **values)
                    .on_conflict_do_update(index_elements=["city", "campaigns"], set_=values))


def forget_all(session: Session) -> int:
    """After an erasure: no figure may still count the person who left."""
    return len(session.execute(delete(ResultSnapshot).returning(ResultSnapshot.city)).all())


def to_json(a: CityAggregates) -> dict[str, Any]:
    return {
        "city": a.city, "start": a.start.isoformat(), "end": a.end.isoformat(),
        "participants": a.participants,
        "participants_by_group": [[*group, n] for group, n in a.participants_by_group.items()],
        "participants_by_campaign": a.participants_by_campaign,
        "completions": [[campaign, *group, n] for (campaign, group), n in a.completions.items()],
        "answered": [[*question, *group, n] for (question, group), n in a.answered.items()],
        "skipped": [[*question, n] for question, n in a.skipped.items()],
        "options": [[*question, *group, option, n] for (question, group, option), n in a.options.items()],
        "numbers": [[*question, *group, number, n] for (question, group, number), n in a.numbers.items()],
        "topics": [[*question, topic, n] for (question, topic), n in a.topics.items()],
    }


def from_json(d: dict[str, Any]) -> CityAggregates:
    return CityAggregates(
        city=d["city"], start=datetime.fromisoformat(d["start"]), end=datetime.fromisoformat(d["end"]),
        participants=d["participants"],
        participants_by_group={(band, place): n for band, place, n in d["participants_by_group"]},
        participants_by_campaign=dict(d["participants_by_campaign"]),
        completions={(campaign, (band, place)): n for campaign, band, place, n in d["completions"]},
        answered={((c, q), (band, place)): n for c, q, band, place, n in d["answered"]},
        skipped={(c, q): n for c, q, n in d["skipped"]},
        options={((c, q), (band, place), option): n for c, q, band, place, option, n in d["options"]},
        numbers={((c, q), (band, place), float(number)): n
                 for c, q, band, place, number, n in d["numbers"]},
        topics={((c, q), topic): n for c, q, topic, n in d["topics"]},
    )

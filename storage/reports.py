"""Aggregates of one city's answers over a period, computed by the database (GROUP BY).

Nothing here loads answers one by one: every query returns at most one row per combination of
question, option (or value, or topic), age band and neighbourhood. The SQL is the same on SQLite and
PostgreSQL: chosen options are rows of ``answer_options``, never JSON to unpack.

The period is half-open, ``start <= answered_at < end``, in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from storage.models import Answer, AnswerOption, Campaign, SafeguardingAlert, SurveyCompletion

# (age band, neighbourhood): the finest breakdown a digest shows; None where the profile is unknown.
Group = tuple[str | None, str | None]
# (campaign id, question id)
QuestionKey = tuple[str, str]
# Only these campaigns' answers; None: every campaign's.
Campaigns = Sequence[str] | None


@dataclass(frozen=True)
class CityAggregates:
    """Everything a digest needs to know about one city and period, as counts."""

    city: str
    start: datetime
    end: datetime
    # Distinct participants with at least one answer (skips included) in the period.
    participants: int
    # Distinct participants per (age band, neighbourhood); a participant who moved during the period
    # counts in each group they answered from.
    participants_by_group: dict[Group, int] = field(default_factory=dict)
    participants_by_campaign: dict[str, int] = field(default_factory=dict)
    # Campaigns finished in the period, per campaign and group.
    completions: dict[tuple[str, Group], int] = field(default_factory=dict)
    # Answers that were not skipped, per question and group (the base of each distribution).
    answered: dict[tuple[QuestionKey, Group], int] = field(default_factory=dict)
    skipped: dict[QuestionKey, int] = field(default_factory=dict)
    # Participants who chose each option, per question and group.
    options: dict[tuple[QuestionKey, Group, str], int] = field(default_factory=dict)
    # Participants who gave each number, per question and group.
    numbers: dict[tuple[QuestionKey, Group, float], int] = field(default_factory=dict)
    # Free-text answers per topic (None: not classified), per question.
    topics: dict[tuple[QuestionKey, str | None], int] = field(default_factory=dict)

    @property
    def answers(self) -> int:
        return sum(self.answered.values()) + sum(self.skipped.values())


def _in_period(city: str, start: datetime, end: datetime,
               campaigns: Campaigns = None) -> list[Any]:
    where = [Answer.city == city, Answer.answered_at >= start, Answer.answered_at < end]
    if campaigns is not None:
        where.append(Answer.campaign_id.in_(campaigns))
    return where


def participant_count(session: Session, city: str, start: datetime, end: datetime,
                      campaigns: Campaigns = None) -> int:
    return int(session.execute(
        select(func.count(distinct(Answer.participant_id))).where(*_in_period(city, start, end, campaigns))
    ).scalar_one())


def participants_by_group(session: Session, city: str, start: datetime,
                          end: datetime, campaigns: Campaigns = None) -> dict[Group, int]:
    profiles = (select(Answer.participant_id, Answer.age_band, Answer.neighbourhood)
                .where(*_in_period(city, start, end, campaigns)).distinct().subquery())
    rows = session.execute(
        select(profiles.c.age_band, profiles.c.neighbourhood, func.count())
        .group_by(profiles.c.age_band, profiles.c.neighbourhood))
    return {(age_band, neighbourhood): count for age_band, neighbourhood, count in rows}


def participants_by_campaign(session: Session, city: str, start: datetime,
                             end: datetime, campaigns: Campaigns = None) -> dict[str, int]:
    rows = session.execute(
        select(Answer.campaign_id, func.count(distinct(Answer.participant_id)))
        .where(*_in_period(city, start, end, campaigns)).group_by(Answer.campaign_id))
    return {campaign_id: count for campaign_id, count in rows}


def completions(session: Session, city: str, start: datetime, end: datetime,
                campaigns: Campaigns = None) -> dict[tuple[str, Group], int]:
    done = SurveyCompletion
    where = [done.city == city, done.completed_at >= start, done.completed_at < end]
    if campaigns is not None:
        where.append(done.campaign_id.in_(campaigns))
    rows = session.execute(
        select(done.campaign_id, done.age_band, done.neighbourhood, func.count())
        .where(*where).group_by(done.campaign_id, done.age_band, done.neighbourhood))
    return {(campaign_id, (age_band, neighbourhood)): count
            for campaign_id, age_band, neighbourhood, count in rows}


def answer_counts(session: Session, city: str, start: datetime, end: datetime, campaigns: Campaigns = None
                  ) -> tuple[dict[tuple[QuestionKey, Group], int], dict[QuestionKey, int]]:
    """Answers given and skipped, per question and group."""
    rows = session.execute(
        select(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
               Answer.skipped, func.count())
        .where(*_in_period(city, start, end, campaigns))
        .group_by(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
                  Answer.skipped))
    answered: dict[tuple[QuestionKey, Group], int] = {}
    skipped: dict[QuestionKey, int] = {}
    for campaign_id, question_id, age_band, neighbourhood, was_skipped, count in rows:
        if was_skipped:
            skipped[(campaign_id, question_id)] = skipped.get((campaign_id, question_id), 0) + count
        else:
            answered[((campaign_id, question_id), (age_band, neighbourhood))] = count
    return answered, skipped


def option_counts(session: Session, city: str, start: datetime,
                  end: datetime,
                  campaigns: Campaigns = None) -> dict[tuple[QuestionKey, Group, str], int]:
    """How many chose each option, per question and group; French and English answers alike."""
    rows = session.execute(
        select(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
               AnswerOption.option_id, func.count())
        .join(AnswerOption, AnswerOption.answer_id == Answer.id)
        .where(*_in_period(city, start, end, campaigns))
        .group_by(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
                  AnswerOption.option_id))
    return {((campaign_id, question_id), (age_band, neighbourhood), option_id): count
            for campaign_id, question_id, age_band, neighbourhood, option_id, count in rows}


def number_counts(session: Session, city: str, start: datetime,
                  end: datetime,
                  campaigns: Campaigns = None) -> dict[tuple[QuestionKey, Group, float], int]:
    rows = session.execute(
        select(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
               Answer.number, func.count())
        .where(*_in_period(city, start, end, campaigns), Answer.number.is_not(None))
        .group_by(Answer.campaign_id, Answer.question_id, Answer.age_band, Answer.neighbourhood,
                  Answer.number))
    return {((campaign_id, question_id), (age_band, neighbourhood), float(number or 0)): count
            for campaign_id, question_id, age_band, neighbourhood, number, count in rows}


def topic_counts(session: Session, city: str, start: datetime,
                 end: datetime,
                 campaigns: Campaigns = None) -> dict[tuple[QuestionKey, str | None], int]:
    rows = session.execute(
        select(Answer.campaign_id, Answer.question_id, Answer.topic, func.count())
        # Past the retention period only the scrubbed text remains: still a free-text answer.
        .where(*_in_period(city, start, end, campaigns),
               func.coalesce(Answer.text, Answer.scrubbed_text).is_not(None), Answer.skipped.is_(False))
        .group_by(Answer.campaign_id, Answer.question_id, Answer.topic))
    return {((campaign_id, question_id), topic): count for campaign_id, question_id, topic, count in rows}


def city_aggregates(session: Session, city: str, start: datetime, end: datetime,
                    campaigns: Campaigns = None) -> CityAggregates:
    """All of the above for one city and period; of the named campaigns only, when named."""
    answered, skipped = answer_counts(session, city, start, end, campaigns)
    return CityAggregates(
        city=city, start=start, end=end,
        participants=participant_count(session, city, start, end, campaigns),
        participants_by_group=participants_by_group(session, city, start, end, campaigns),
        participants_by_campaign=participants_by_campaign(session, city, start, end, campaigns),
        completions=completions(session, city, start, end, campaigns),
        answered=answered, skipped=skipped,
        options=option_counts(session, city, start, end, campaigns),
        numbers=number_counts(session, city, start, end, campaigns),
        topics=topic_counts(session, city, start, end, campaigns),
    )


def answered_in(session: Session, campaign_id: str, city: str) -> bool:
    """Whether anyone answered this campaign from this city."""
    return session.execute(select(Answer.id).where(Answer.campaign_id == campaign_id, Answer.city == city)
                           .limit(1)).first() is not None


QUOTE_LENGTH = (12, 220)
QUOTES_PER_TOPIC = 3


def quote_candidates(session: Session, city: str, start: datetime,
                     end: datetime) -> list[tuple[str, str]]:
    """(topic, scrubbed text) of a few short free-text answers per topic, the most recent first.

    Only scrubbed text is read (never the text as typed), and nothing from a participant who ever
    disclosed harm: a disclosure is never an answer, and whoever made one is left out altogether.
    """
    length = func.length(Answer.scrubbed_text)
    ranked = (
        select(Answer.topic, Answer.scrubbed_text,
               func.row_number().over(partition_by=Answer.topic,
                                      order_by=(Answer.answered_at.desc(), Answer.id.desc())).label("rank"))
        .where(*_in_period(city, start, end), Answer.skipped.is_(False), Answer.topic.is_not(None),
               Answer.scrubbed_text.is_not(None), length >= QUOTE_LENGTH[0], length <= QUOTE_LENGTH[1],
               ~select(SafeguardingAlert.id)
               .where(SafeguardingAlert.participant_id == Answer.participant_id).exists())
        .subquery())
    rows = session.execute(select(ranked.c.topic, ranked.c.scrubbed_text)
                           .where(ranked.c.rank <= QUOTES_PER_TOPIC)
                           .order_by(ranked.c.topic, ranked.c.rank))
    return [(str(topic), str(text)) for topic, text in rows]


def campaign_definitions(session: Session, campaign_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The newest stored definition of each campaign: labels for answers given under any version."""
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return {}
    newest = (select(Campaign.id, func.max(Campaign.version).label("version"))
              .where(Campaign.id.in_(wanted)).group_by(Campaign.id).subquery())
    rows = session.execute(
        select(Campaign.id, Campaign.definition)
        .join(newest, (newest.c.id == Campaign.id) & (newest.c.version == Campaign.version)))
    return {campaign_id: dict(definition) for campaign_id, definition in rows}

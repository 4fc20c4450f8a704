"""What partners read about their campaign: progress counts and the answers for export.

Counts are grouped in SQL (one GROUP BY per table, on SQLite and PostgreSQL alike); only the
groups come back to Python.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.orm import Session

from storage.invitations import Audience, _eligible
from storage.models import Answer, AnswerOption, Invitation, Participant, Participation, SurveyCompletion

Group = tuple[str | None, str | None]  # (city, age band)

# "invited": Telegram took the invitation (a row that reached `sent` stays there), so the figure
# only grows while a broadcast runs; what is still on its way is in the broadcast's progress.
METRICS = ("targeted", "invited", "failed", "started", "completed", "not_now", "stopped", "reminded")


def progress_by_group(session: Session, campaign_id: str, audiences: list[Audience],
                      channel: str) -> dict[Group, Counter[str]]:
    groups: dict[Group, Counter[str]] = {}

    def add(city: str | None, band: str | None, metric: str, count: int) -> None:
        if count:
            groups.setdefault((city, band), Counter())[metric] += int(count)

    def flag(condition: Any) -> Any:
        return case((condition, 1), else_=0)

    is_invitation = Invitation.kind == "invitation"
    zero = literal(0)
    # What each row of the campaign says of its participant, invitations, participations and
    # completions alike, joined with the participants once (not once per table: at 100,000
    # participants each join is a hash of them all).
    facts = union_all(
        select(Invitation.participant_id.label("participant_id"),
               flag(is_invitation).label("invitation"),
               flag(is_invitation & (Invitation.status == "sent")).label("invited"),
               flag(Invitation.status == "failed").label("failed"),
               flag(is_invitation & (Invitation.response == "not_now")).label("not_now"),
               flag(is_invitation & (Invitation.status == "blocked")).label("blocked"),
               flag((Invitation.kind == "reminder") & (Invitation.status == "sent")).label("reminded"),
               zero.label("started"), zero.label("completed"))
        .where(Invitation.campaign_id == campaign_id),
        select(Participation.participant_id, zero, zero, zero, zero, zero, zero, literal(1), zero)
        .where(Participation.campaign_id == campaign_id),
        select(SurveyCompletion.participant_id, zero, zero, zero, zero, zero, zero, zero, literal(1))
        .where(SurveyCompletion.campaign_id == campaign_id),
    ).subquery()
    stopped = Participant.stopped_at.is_not(None)
    rows = session.execute(
        select(Participant.city, Participant.age_band,
               # Targeted: everyone the campaign is for today (below), and those invited who stopped since.
               func.sum(case((stopped, facts.c.invitation), else_=0)),
               func.sum(facts.c.invited), func.sum(facts.c.failed), func.sum(facts.c.not_now),
               func.sum(case((stopped, facts.c.invitation), else_=facts.c.blocked)),
               func.sum(facts.c.reminded), func.sum(facts.c.started), func.sum(facts.c.completed))
        .select_from(facts)
        .join(Participant, Participant.id == facts.c.participant_id)
        .group_by(Participant.city, Participant.age_band)).all()
    for city, band, *counts in rows:
        for metric, count in zip(("targeted", "invited", "failed", "not_now", "stopped", "reminded",
                                  "started", "completed"), counts, strict=True):
            add(city, band, metric, count or 0)
    for audience in audiences:
        reachable = session.execute(
            select(Participant.city, Participant.age_band, func.count())
            .where(*_eligible(campaign_id, audience, channel, not_started=False))  # type: ignore[arg-type]
            .group_by(Participant.city, Participant.age_band)).all()
        for city, band, count in reachable:
            add(city, band, "targeted", count)
    return groups


def totals(session: Session, campaign_ids: list[str]) -> dict[str, Counter[str]]:
    """Per campaign, the people invited and those who completed it: what a list of campaigns shows,
    two statements for all of them (`progress_by_group` counts everything for one)."""
    found: dict[str, Counter[str]] = {campaign_id: Counter() for campaign_id in campaign_ids}
    if not campaign_ids:
        return found
    invited = session.execute(
        select(Invitation.campaign_id, func.count())
        .where(Invitation.campaign_id.in_(campaign_ids), Invitation.kind == "invitation",
               Invitation.status == "sent")
        .group_by(Invitation.campaign_id))
    completed = session.execute(
        select(SurveyCompletion.campaign_id, func.count())
        .where(SurveyCompletion.campaign_id.in_(campaign_ids))
        .group_by(SurveyCompletion.campaign_id))
    for metric, rows in (("invited", invited), ("completed", completed)):
        for campaign_id, count in rows:
            found[campaign_id][metric] = int(count)
    return found


def pseudonym(campaign_id: str, participant_id: str) -> str:
    """Stable within one campaign's exports, unlinkable across campaigns."""
    return hashlib.sha256(f"{campaign_id}:{participant_id}".encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class AnswerRow:
    participant: str
    campaign_version: int
    age_band: str | None
    city: str | None
    neighbourhood: str | None
    language: str
    question_id: str
    option_ids: tuple[str, ...]
    number: float | None
    # Free text with personal details replaced ([phone], [name]...): the raw text never leaves.
    scrubbed_text: str | None
    # Whether the answer had free text at all (a raw text past retention may be gone).
    has_text: bool
    skipped: bool
    answered_at: datetime


def answers_of(session: Session, campaign_id: str) -> Iterator[AnswerRow]:
    """Every answer of the campaign, participant by participant; never a chat id or a name.

    The age band, city and neighbourhood are those the participant had when answering.
    """
    options: dict[int, list[str]] = {}
    for answer_id, option_id in session.execute(
            select(AnswerOption.answer_id, AnswerOption.option_id)
            .join(Answer, Answer.id == AnswerOption.answer_id)
            .where(Answer.campaign_id == campaign_id)
            .order_by(AnswerOption.answer_id, AnswerOption.position)):
        options.setdefault(answer_id, []).append(option_id)
    rows = session.execute(
        select(Answer.id, Answer.participant_id, Answer.campaign_version, Answer.age_band, Answer.city,
               Answer.neighbourhood, Answer.language, Answer.question_id, Answer.number,
               Answer.scrubbed_text, Answer.text.is_not(None) | Answer.scrubbed_text.is_not(None),
               Answer.skipped, Answer.answered_at)
        .where(Answer.campaign_id == campaign_id)
        .order_by(Answer.participant_id, Answer.answered_at, Answer.id))
    for (answer_id, participant_id, version, band, city, place, language, question, number, text,
         has_text, skipped, answered_at) in rows:
        yield AnswerRow(pseudonym(campaign_id, participant_id), version, band, city, place, language,
                        question, tuple(options.get(answer_id, ())), number, text, bool(has_text),
                        skipped, answered_at)

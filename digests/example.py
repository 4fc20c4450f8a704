"""Generated answers for examples, tests and benchmarks, and the example digests in docs/.

The answers are drawn from a seeded random generator, so the same seed always gives the same
people, the same answers and therefore the same digest.
"""

from __future__ import annotations

import functools
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from bot.engine.redaction import scrub
from bot.engine.survey import QuestionType, Survey
from storage import repositories as repo
from storage.records import AnswerIn

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The example week: Monday 23 to Monday 30 November 2026, 08:00 in Lyon and Montréal alike.
EXAMPLE_NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

TEXTS = {
    "transport": ("Plus de bus le soir, le dernier passe trop tôt",
                  "More buses at night, the last one is too early"),
    "safety": ("Mieux éclairer le passage sous le pont", "Better lighting in the underpass"),
    "green_spaces": ("Un parc avec des arbres près du collège", "A park with trees near the school"),
    "leisure": ("Un local pour se retrouver le week-end", "A place to hang out at the weekend"),
    "jobs": ("Des petits boulots l'été dès 16 ans", "Summer jobs from the age of 16"),
    "housing": ("Des logements moins chers pour les jeunes", "Cheaper flats for young people"),
}
# Typed by a participant: must reach any digest as text, never as markup.
HOSTILE = "<script>alert('x')</script> **gras** <b>[lien](http://example.org)</b>"


@dataclass(frozen=True)
class Person:
    id: str
    language: str
    age_band: str
    city: str
    neighbourhood: str


@dataclass(frozen=True)
class Seeded:
    people: tuple[Person, ...]
    answers: tuple[AnswerIn, ...]
    completions: tuple[tuple[str, datetime], ...]


def generate(survey: Survey, city: str, neighbourhoods: Sequence[str], age_bands: Sequence[str],
             count: int, start: datetime, end: datetime, seed: int) -> Seeded:
    """``count`` people of ``city`` answering ``survey`` between ``start`` and ``end``."""
    rng = random.Random(seed)
    people, answers, completions = [], [], []
    span = (end - start).total_seconds()
    for number in range(count):
        person = Person(id=f"{seed:04x}{number:028x}", language=rng.choice(("fr", "en")),
                        age_band=rng.choices(age_bands, weights=[1, 4, 3, 2][:len(age_bands)])[0],
                        city=city, neighbourhood=rng.choices(
                            neighbourhoods, weights=list(range(len(neighbourhoods), 0, -1)))[0])
        people.append(person)
        at = start + timedelta(seconds=rng.uniform(0, span * 0.9))
        given: dict[str, AnswerIn] = {}
        stop_at = len(survey.questions) if rng.random() < 0.85 else rng.randrange(1, len(survey.questions))
        for question in survey.questions[:stop_at]:
            condition = question.show_if
            if condition is not None:
                earlier = given.get(condition.question)
                if earlier is None or not set(earlier.option_ids or ()) & set(condition.any_of):
                    continue
            at += timedelta(seconds=rng.uniform(5, 40))
            answer = _answer(rng, survey, question.id, person, at, number)
            given[question.id] = answer
            answers.append(answer)
        if stop_at == len(survey.questions):
            completions.append((person.id, at))
    return Seeded(tuple(people), tuple(answers), tuple(completions))


def _answer(rng: random.Random, survey: Survey, question_id: str, person: Person, at: datetime,
            number: int) -> AnswerIn:
    question = survey.question(question_id)
    assert question is not None
    fields: dict[str, object] = {"option_ids": None, "number": None, "text": None, "skipped": False}
    if not question.required and rng.random() < 0.06:
        fields["skipped"] = True
    elif question.type is QuestionType.MULTIPLE:
        picked = [o.id for o in question.options if rng.random() < 0.35] or [question.options[0].id]
        fields["option_ids"] = tuple(picked)
    elif question.type in (QuestionType.SINGLE, QuestionType.SCALE, QuestionType.YES_NO):
        weights = [len(question.options) - i + (2 if person.neighbourhood.startswith("v") and i == 1 else 0)
                   for i in range(len(question.options))]
        fields["option_ids"] = (rng.choices([o.id for o in question.options], weights=weights)[0],)
    elif question.type is QuestionType.NUMBER:
        fields["number"] = float(min(int(question.max or 31), int(rng.expovariate(1 / 6))))
    else:
        topic = rng.choice(sorted(TEXTS))
        french, english = TEXTS[topic]
        fields["text"] = HOSTILE if number % 17 == 3 else (french if person.language == "fr" else english)
        fields["scrubbed_text"] = scrub(str(fields["text"]))
        fields["topic"] = topic
        fields["topic_confidence"] = 0.9
    return AnswerIn(participant_id=person.id, campaign_id=survey.id, campaign_version=survey.version,
                    question_id=question_id, language=person.language, answered_at=at,
                    **fields)  # type: ignore[arg-type]


def store(session: Session, seeded: Seeded, now: datetime) -> None:
    """Put generated people and answers in the database through the repositories, as turns would."""
    for person in seeded.people:
        repo.get_or_create_participant(session, "example", person.id, now,
                                       new_id=functools.partial(str, person.id))
        repo.update_profile(session, person.id, language=person.language, age_band=person.age_band,
                            city=person.city, neighbourhood=person.neighbourhood)
    for answer in seeded.answers:
        repo.save_answer(session, answer)
    campaign = seeded.answers[0] if seeded.answers else None
    for participant_id, at in seeded.completions:
        assert campaign is not None
        repo.record_completion(session, participant_id, campaign.campaign_id, campaign.campaign_version, at)


def write_example(out: Path) -> list[Path]:
    """The example digests of docs/: Lyon's council in French, Montréal's in English."""
    from bot.app import build_app, digest_service
    from bot.config import load_config
    from digests.periods import weekly_period

    config_path = PROJECT_ROOT / "config.yml"
    config = load_config(config_path)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(config_path, f"sqlite:///{folder}/example.db", clock=lambda: EXAMPLE_NOW)
        try:
            councils = [council.model_copy(update={"language": language, "id": f"{council.city}-{language}"})
                        for council, language in ((config.council("lyon-council"), "fr"),
                                                  (config.council("montreal-council"), "en"))
                        if council is not None]
            app.config = app.config.model_copy(update={"councils": councils})
            service = digest_service(app, clock=lambda: EXAMPLE_NOW)
            survey = app.context.campaigns[0]
            bands = [band.id for band in app.config.age_bands]
            with app.sessions.begin() as session:
                for number, council in enumerate(councils):
                    city = app.config.city(council.city)
                    assert city is not None
                    week = service.default_period(council)
                    places = [place.id for place in city.neighbourhoods]
                    for offset, people in ((0, 140), (1, 90)):
                        period = week if offset == 0 else week.previous()
                        store(session, generate(survey, city.id, places, bands, people,
                                                period.start.astimezone(UTC), period.end.astimezone(UTC),
                                                seed=number * 10 + offset + 1), EXAMPLE_NOW)
            for council in councils:
                zone = service.zone(council)
                assert council.schedule.weekly is not None
                period = weekly_period(EXAMPLE_NOW, zone, council.schedule.weekly.day,
                                       council.schedule.weekly.time)
                for path in service.preview(council.id, period, out).values():
                    final = out / f"digest-{council.language}{path.suffix}"
                    path.replace(final)
                    written.append(final)
        finally:
            app.close()
    return written

"""A council's weekly digest over many answers, timed next to the bare aggregate queries it runs.

The data: participants spread over the three cities of config.yml, each answering the ten questions of
surveys/my-city.yml in one week (options as rows, free text with topics), loaded in bulk. Measured,
for Lyon's council, median of several runs each:

- aggregates: the GROUP BY queries alone (this week and the previous one, as the digest reads both);
- digest: the same queries, the build with suppression, the charts, HTML, text, CSV and the MIME
  message, i.e. everything `youthvoice digest send` does before talking to a server.

    .venv/bin/python benchmarks/digest.py [--backend postgresql|sqlite|both]
        [--participants 100000] [--sqlite-participants 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert  # noqa: E402

from bot.app import build_app, digest_service  # noqa: E402
from bot.config import Secrets  # noqa: E402
from bot.engine.survey import QuestionType, Survey  # noqa: E402
from digests.render import email_message, render  # noqa: E402
from storage import reports  # noqa: E402
from storage.models import Answer, AnswerOption, Participant, SurveyCompletion  # noqa: E402
from tests.support.postgres import temporary_postgres  # noqa: E402

# Monday 30 November 2026, 14:00 UTC: every city's weekly digest (Monday 08:00 local) is due.
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
WEEK_START = NOW - timedelta(days=6, hours=20)
TOPICS = ("transport", "safety", "green_spaces", "youth_places", "sport", None)
BATCH = 20_000


def rows(survey: Survey, cities: list[tuple[str, list[str]]], bands: list[str], participants: int
         ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Batches of rows per table, generated the same way for every backend (seeded)."""
    rng = random.Random(12)
    people: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    options: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    answer_id = 0
    span = (NOW - WEEK_START).total_seconds() - 3600
    for number in range(participants):
        city, places = cities[number % len(cities)]
        person = {"id": f"{number:032x}", "created_at": WEEK_START, "language": rng.choice(("fr", "en")),
                  "age_band": rng.choice(bands), "city": city, "neighbourhood": rng.choice(places)}
        people.append(person)
        at = WEEK_START + timedelta(seconds=rng.uniform(0, span))
        for question in survey.questions:
            answer_id += 1
            at += timedelta(seconds=rng.uniform(5, 30))
            answer: dict[str, Any] = {
                "id": answer_id, "participant_id": person["id"], "campaign_id": survey.id,
                "campaign_version": survey.version, "question_id": question.id, "number": None, "text": None,
                "skipped": rng.random() < 0.05, "language": person["language"], "answered_at": at,
                "topic": None, "topic_confidence": None, "understanding_pending": False,
                "age_band": person["age_band"], "city": city, "neighbourhood": person["neighbourhood"]}
            if not answer["skipped"]:
                if question.type is QuestionType.NUMBER:
                    answer["number"] = float(rng.randint(0, 31))
                elif question.type is QuestionType.TEXT:
                    answer["topic"] = rng.choice(TOPICS)
                    answer["text"] = f"idée {answer_id}"
                else:
                    if question.type is QuestionType.MULTIPLE:
                        chosen = [o.id for o in question.options if rng.random() < 0.3] or [
                            question.options[0].id]
                    else:
                        chosen = [rng.choice(question.options).id]
                    options += [{"answer_id": answer_id, "option_id": option, "position": position}
                                for position, option in enumerate(chosen)]
            answers.append(answer)
        done.append({"participant_id": person["id"], "campaign_id": survey.id,
                     "campaign_version": survey.version, "completed_at": at, "age_band": person["age_band"],
                     "city": city, "neighbourhood": person["neighbourhood"]})
        if len(answers) >= BATCH:
            yield from (("participants", people), ("answers", answers), ("answer_options", options),
                        ("survey_completions", done))
            people, answers, options, done = [], [], [], []
    yield from (("participants", people), ("answers", answers), ("answer_options", options),
                ("survey_completions", done))


TABLES = {"participants": Participant, "answers": Answer, "answer_options": AnswerOption,
          "survey_completions": SurveyCompletion}


def load(engine: Engine, batches: Iterator[tuple[str, list[dict[str, Any]]]]) -> int:
    total = 0
    with engine.begin() as connection:
        for name, batch in batches:
            if not batch:
                continue
            if name == "answers":
                total += len(batch)
            if connection.dialect.name == "postgresql":
                _copy(connection, name, batch)
            else:
                connection.execute(insert(TABLES[name]), batch)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    return total


def _copy(connection: Any, name: str, batch: list[dict[str, Any]]) -> None:
    columns = list(batch[0])
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in batch:
            copy.write_row([row[column] for column in columns])


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(label: str, url: str, participants: int, runs: int) -> None:
    app = build_app(ROOT / "config.yml", url, clock=lambda: NOW)
    try:
        survey = app.context.campaigns[0]
        cities = [(city.id, [place.id for place in city.neighbourhoods]) for city in app.config.cities]
        bands = [band.id for band in app.config.age_bands]
        started = time.perf_counter()
        answers = load(app.engine, rows(survey, cities, bands, participants))
        loaded = time.perf_counter() - started
        service = digest_service(app, Secrets({}), clock=lambda: NOW)
        council = service.council("lyon-council")
        period = service.default_period(council)
        current, previous = period.utc(), period.previous().utc()

        def aggregates() -> None:
            with app.sessions() as session:
                reports.city_aggregates(session, council.city, current.start, current.end)
                reports.city_aggregates(session, council.city, previous.start, previous.end)

        def digest() -> None:
            rendered = render(service.build(council, period))
            bytes(email_message(rendered, app.config.email.sender, council.recipients.email, "bench"))

        with app.sessions() as session:
            lyon = reports.city_aggregates(session, council.city, current.start, current.end)
        digest()
        bare = median_ms(aggregates, runs)
        whole = median_ms(digest, runs)
        print(f"{label}: {answers:,} answers ({participants:,} participants, {len(cities)} cities; Lyon "
              f"{lyon.answers:,} answers this week), loaded in {loaded:.0f} s")
        print(f"  aggregate queries (this week + previous): median {bare:.0f} ms over {runs} runs")
        print(f"  whole digest (queries, build, suppression, charts, HTML/text/CSV, MIME): median "
              f"{whole:.0f} ms over {runs} runs")
        print(f"  digest / bare queries: {whole / bare:.2f}x")
    finally:
        app.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--participants", type=int, default=100_000,
                        help="PostgreSQL: participants, ten answers each (default 100,000: "
                             "1,000,000 answers)")
    parser.add_argument("--sqlite-participants", type=int, default=10_000,
                        help="SQLite: participants (default 10,000: 100,000 answers)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.backend in ("postgresql", "both"):
            measure("PostgreSQL", stack.enter_context(temporary_postgres("youthvoice_bench")),
                    args.participants, args.runs)
        if args.backend in ("sqlite", "both"):
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            measure("SQLite", f"sqlite:///{folder}/digest.db", args.sqlite_participants, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

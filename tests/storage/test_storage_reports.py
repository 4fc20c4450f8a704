from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from storage import reports
from storage.models import SafeguardingAlert
from storage.records import AnswerIn
from storage.repositories import (
    get_or_create_participant,
    record_completion,
    save_answer,
    update_profile,
    upsert_campaign,
)

LYON = "lyon"


def person(session: Session, chat: str, now: datetime, *, city: str = LYON, age_band: str = "15-17",
           neighbourhood: str | None = "vaise") -> str:
    participant_id = get_or_create_participant(session, "telegram", chat, now).id
    update_profile(session, participant_id, age_band=age_band, city=city, neighbourhood=neighbourhood)
    return participant_id


def give(session: Session, participant_id: str, question_id: str, at: datetime, *,
         language: str = "fr", **fields: object) -> None:
    values: dict[str, object] = {"option_ids": None, "number": None, "text": None, "skipped": False}
    values.update(fields)
    save_answer(session, AnswerIn(participant_id=participant_id, campaign_id="my-city", campaign_version=1,
                                  question_id=question_id, language=language, answered_at=at,
                                  **values))  # type: ignore[arg-type]


@pytest.fixture
def seeded(sessions: sessionmaker[Session], now: datetime) -> sessionmaker[Session]:
    """Lyon: three in Vaise (15-17), one in Mermoz (18-20), one French, the others English;
    Montréal: one, who must never show in Lyon's figures; one Lyon answer after the period."""
    with sessions.begin() as session:
        anna = person(session, "1", now)
        ben = person(session, "2", now)
        chloe = person(session, "3", now)
        dan = person(session, "4", now, age_band="18-20", neighbourhood="mermoz")
        eve = person(session, "5", now, city="montreal", neighbourhood="verdun")
        give(session, anna, "getting_around", now, option_ids=["bus"])
        give(session, ben, "getting_around", now, language="en", option_ids=["bus"])
        give(session, chloe, "getting_around", now, language="en", option_ids=["bike"])
        give(session, dan, "getting_around", now, language="en", skipped=True)
        give(session, eve, "getting_around", now, option_ids=["bus"])
        give(session, anna, "transport_problem", now, option_ids=["night", "price"])
        give(session, ben, "transport_problem", now, language="en", option_ids=["price"])
        give(session, anna, "green_visits", now, number=4)
        give(session, ben, "green_visits", now, language="en", number=4)
        give(session, dan, "green_visits", now, language="en", number=12)
        give(session, anna, "change_first", now, text="plus de bus", topic="transport")
        give(session, ben, "change_first", now, language="en", text="more buses", topic="transport")
        give(session, chloe, "change_first", now, language="en", text="parks")
        give(session, chloe, "green_visits", now + timedelta(days=8), number=30)
        record_completion(session, anna, "my-city", 1, now)
        record_completion(session, ben, "my-city", 1, now)
        record_completion(session, eve, "my-city", 1, now)
    return sessions


def test_aggregates_count_one_city_and_period_pooling_languages(
        seeded: sessionmaker[Session], now: datetime) -> None:
    with seeded.begin() as session:
        result = reports.city_aggregates(session, LYON, now - timedelta(days=1), now + timedelta(days=6))
    vaise, mermoz = ("15-17", "vaise"), ("18-20", "mermoz")
    around, problem = ("my-city", "getting_around"), ("my-city", "transport_problem")
    visits, change = ("my-city", "green_visits"), ("my-city", "change_first")
    assert result.participants == 4
    assert result.participants_by_group == {vaise: 3, mermoz: 1}
    assert result.participants_by_campaign == {"my-city": 4}
    assert result.completions == {("my-city", vaise): 2}
    assert result.answered == {(around, vaise): 3, (problem, vaise): 2, (visits, vaise): 2,
                               (visits, mermoz): 1, (change, vaise): 3}
    assert result.skipped == {around: 1}
    assert result.options == {(around, vaise, "bus"): 2, (around, vaise, "bike"): 1,
                              (problem, vaise, "night"): 1, (problem, vaise, "price"): 2}
    assert result.numbers == {(visits, vaise, 4.0): 2, (visits, mermoz, 12.0): 1}
    assert result.topics == {(change, "transport"): 2, (change, None): 1}
    assert result.answers == 12


def test_an_empty_period_has_no_counts(seeded: sessionmaker[Session], now: datetime) -> None:
    with seeded.begin() as session:
        result = reports.city_aggregates(session, LYON, now - timedelta(days=30), now - timedelta(days=20))
    assert (result.participants, result.answers, result.options) == (0, 0, {})
    assert result.participants_by_group == {}


def test_aggregation_returns_grouped_rows_only(seeded: sessionmaker[Session], now: datetime) -> None:
    """Every statement groups: the database counts, Python never sees an answer row."""
    statements: list[str] = []
    with seeded.begin() as session:
        engine = session.get_bind()

        def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            reports.city_aggregates(session, LYON, now - timedelta(days=1), now + timedelta(days=6))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    queries = [statement.lower() for statement in statements
               if statement.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 8
    assert all("count(" in query for query in queries)


def test_the_newest_definition_of_each_campaign_is_read(sessions: sessionmaker[Session],
                                                        now: datetime) -> None:
    with sessions.begin() as session:
        upsert_campaign(session, "my-city", 1, {"version": 1}, "h1", now)
        upsert_campaign(session, "my-city", 2, {"version": 2}, "h2", now)
        upsert_campaign(session, "parks", 1, {"version": 1}, "h3", now)
        assert reports.campaign_definitions(session, ["my-city", "unknown"]) == {"my-city": {"version": 2}}
        assert reports.campaign_definitions(session, []) == {}


def test_quotes_come_from_scrubbed_text_only_and_never_from_someone_who_disclosed_harm(
        sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        people = [person(session, str(n), now) for n in range(6)]
        for n, participant_id in enumerate(people):
            give(session, participant_id, "change_first", now + timedelta(minutes=n),
                 text=f"appelle-moi au 06 12 34 56 7{n}, plus de bus", topic="transport",
                 scrubbed_text=f"appelle-moi au [phone], plus de bus numéro {n}")
        give(session, people[0], "other_idea", now, text="un parc", topic="parks", scrubbed_text="un parc")
        give(session, people[1], "third", now, text="ok", topic="parks", scrubbed_text="ok")
        session.add(SafeguardingAlert(ref="A1", participant_id=people[5], category="abuse",
                                      categories=["abuse"], message=None, scrubbed="[redacted]",
                                      city=LYON, language="fr", status="open", created_at=now))
    with sessions.begin() as session:
        candidates = reports.quote_candidates(session, LYON, now - timedelta(days=1), now + timedelta(days=1))
    assert candidates == [("transport", "appelle-moi au [phone], plus de bus numéro 4"),
                          ("transport", "appelle-moi au [phone], plus de bus numéro 3"),
                          ("transport", "appelle-moi au [phone], plus de bus numéro 2")]

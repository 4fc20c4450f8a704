from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AnswerOption, SurveyCompletion
from storage.records import AnswerIn
from storage.repositories import (
    answers_for,
    answers_pending_understanding,
    get_or_create_participant,
    record_completion,
    save_answer,
    set_answer_topic,
    update_profile,
)


def answer(participant_id: str, question_id: str, at: datetime, **changes: Any) -> AnswerIn:
    base = AnswerIn(
        participant_id=participant_id,
        campaign_id="transport-2026",
        campaign_version=1,
        question_id=question_id,
        option_ids=None,
        number=None,
        text=None,
        skipped=False,
        language="fr",
        answered_at=at,
    )
    return replace(base, **changes)


def test_an_answer_keeps_every_field(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    given_answer = answer(
        participant_id,
        "how",
        now,
        option_ids=("bus", "bike"),
        number=3.5,
        text="en bus, parfois à vélo",
        topic="transport",
        topic_confidence=0.87,
    )
    with sessions.begin() as session:
        saved = save_answer(session, given_answer)
    with sessions.begin() as session:
        (stored,) = answers_for(session, participant_id)
    assert stored.id == saved
    assert (stored.campaign_id, stored.campaign_version, stored.question_id) == ("transport-2026", 1, "how")
    assert stored.option_ids == ["bus", "bike"]
    assert stored.number == 3.5
    assert stored.text == "en bus, parfois à vélo"
    assert stored.skipped is False
    assert stored.language == "fr"
    assert stored.answered_at == now
    assert (stored.topic, stored.topic_confidence, stored.understanding_pending) == ("transport", 0.87, False)


def test_answering_again_replaces_the_answer(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        first = save_answer(session, answer(participant_id, "how", now, option_ids=["bus"]))
    later = now + timedelta(minutes=2)
    with sessions.begin() as session:
        second = save_answer(
            session,
            answer(participant_id, "how", later, option_ids=None, skipped=True, campaign_version=2),
        )
        assert second == first
    with sessions.begin() as session:
        (stored,) = answers_for(session, participant_id)
    assert (stored.option_ids, stored.skipped, stored.answered_at, stored.campaign_version) == (
        None,
        True,
        later,
        2,
    )


def test_answers_are_listed_in_the_order_they_were_given(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        save_answer(session, answer(participant_id, "q2", now + timedelta(seconds=2)))
        save_answer(session, answer(participant_id, "q1", now))
        save_answer(session, answer(participant_id, "q1", now, campaign_id="parks-2026"))
    with sessions.begin() as session:
        listed = [(a.campaign_id, a.question_id) for a in answers_for(session, participant_id)]
    assert listed == [("transport-2026", "q1"), ("parks-2026", "q1"), ("transport-2026", "q2")]


def test_nul_characters_are_dropped_from_free_text(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        save_answer(session, answer(participant_id, "free", now, text="plus\x00 de bancs\x00"))
    with sessions.begin() as session:
        (stored,) = answers_for(session, participant_id)
    assert stored.text == "plus de bancs"


def test_each_chosen_option_is_a_row_in_the_order_chosen(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        free = save_answer(session, answer(participant_id, "free", now, text="rien"))
        empty = save_answer(session, answer(participant_id, "pick", now, option_ids=[]))
        picked = save_answer(session, answer(participant_id, "many", now,
                                             option_ids=["night", "price", "night"]))
    with sessions.begin() as session:
        rows = session.execute(select(AnswerOption.answer_id, AnswerOption.option_id, AnswerOption.position)
                               .order_by(AnswerOption.answer_id, AnswerOption.position)).all()
        stored = {a.id: a.option_ids for a in answers_for(session, participant_id)}
    assert [tuple(row) for row in rows] == [(picked, "night", 0), (picked, "price", 1)]
    assert stored == {free: None, empty: None, picked: ["night", "price"]}


def test_answering_again_replaces_the_chosen_options(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        save_answer(session, answer(participant_id, "many", now, option_ids=["night", "price"]))
        save_answer(session, answer(participant_id, "many", now, option_ids=["safety"]))
    with sessions.begin() as session:
        assert session.scalars(select(AnswerOption.option_id)).all() == ["safety"]
        save_answer(session, answer(participant_id, "many", now, skipped=True))
    with sessions.begin() as session:
        assert session.scalars(select(AnswerOption.option_id)).all() == []


def test_an_answer_keeps_the_profile_its_author_had_when_answering(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        update_profile(session, participant_id, age_band="15-17", city="lyon", neighbourhood="vaise")
        save_answer(session, answer(participant_id, "q1", now, option_ids=["bus"]))
        record_completion(session, participant_id, "transport-2026", 1, now)
    with sessions.begin() as session:
        update_profile(session, participant_id, age_band="18-20", city="montreal", neighbourhood="verdun")
        save_answer(session, answer(participant_id, "q2", now, option_ids=["bike"]))
    with sessions.begin() as session:
        kept = {a.question_id: (a.age_band, a.city, a.neighbourhood)
                for a in answers_for(session, participant_id)}
        (completion,) = session.scalars(select(SurveyCompletion)).all()
    assert kept == {"q1": ("15-17", "lyon", "vaise"), "q2": ("18-20", "montreal", "verdun")}
    assert (completion.campaign_id, completion.city, completion.neighbourhood, completion.completed_at) == (
        "transport-2026", "lyon", "vaise", now)


def test_finishing_a_campaign_again_moves_its_completion(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        record_completion(session, participant_id, "transport-2026", 1, now)
        record_completion(session, participant_id, "transport-2026", 2, now + timedelta(days=1))
    with sessions.begin() as session:
        (completion,) = session.scalars(select(SurveyCompletion)).all()
    assert (completion.campaign_version, completion.completed_at) == (2, now + timedelta(days=1))


def test_pending_answers_are_queued_oldest_first_until_tagged(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        for minute, question_id in enumerate(["q3", "q1", "q2"]):
            save_answer(
                session,
                answer(
                    participant_id,
                    question_id,
                    now + timedelta(minutes=[2, 0, 1][minute]),
                    text="des pistes cyclables",
                    understanding_pending=True,
                ),
            )
        save_answer(session, answer(participant_id, "q4", now, text="done already"))
    with sessions.begin() as session:
        oldest = answers_pending_understanding(session, limit=2)
        assert [a.question_id for a in oldest] == ["q1", "q2"]
        assert set_answer_topic(session, oldest[0].id, "cycling", 0.91) is True
        assert set_answer_topic(session, 999_999, "cycling", 0.91) is False
    with sessions.begin() as session:
        assert [a.question_id for a in answers_pending_understanding(session, limit=10)] == ["q2", "q3"]
        tagged = next(a for a in answers_for(session, participant_id) if a.question_id == "q1")
    assert (tagged.topic, tagged.topic_confidence, tagged.understanding_pending) == ("cycling", 0.91, False)


def test_places_and_lines_named_in_an_answer_are_kept_and_added_on_backfill(
    sessions: sessionmaker[Session], participant_id: str, now: datetime
) -> None:
    with sessions.begin() as session:
        save_answer(session, answer(participant_id, "q1", now, text="la C3 à la Guill",
                                    mentions=(("transport_line", "C3"), ("neighbourhood", "Guill"))))
        later = save_answer(session, answer(participant_id, "q2", now, text="le T1 jamais là",
                                            understanding_pending=True))
        save_answer(session, answer(participant_id, "q3", now, text="rien"))
    with sessions.begin() as session:
        assert set_answer_topic(session, later, "transport", 0.9, (("transport_line", "T1"),))
    with sessions.begin() as session:
        kept = {a.question_id: a.mentions for a in answers_for(session, participant_id)}
    assert kept == {"q1": [["transport_line", "C3"], ["neighbourhood", "Guill"]],
                    "q2": [["transport_line", "T1"]], "q3": None}


def test_two_workers_never_take_the_same_pending_answers(
    sessions: sessionmaker[Session], participant_id: str, now: datetime, background: ThreadPoolExecutor
) -> None:
    with sessions.begin() as session:
        for index in range(4):
            save_answer(
                session,
                answer(
                    participant_id, f"q{index}", now + timedelta(minutes=index), understanding_pending=True
                ),
            )

    def second_worker() -> list[str]:
        with sessions.begin() as session:
            return [a.question_id for a in answers_pending_understanding(session, limit=2)]

    with sessions.begin() as session:
        taken = answers_pending_understanding(session, limit=2)
        # PostgreSQL skips the rows locked here; SQLite makes the worker wait its turn.
        other = background.submit(second_worker)
        for pending in taken:
            set_answer_topic(session, pending.id, "other", 0.5)
    assert [a.question_id for a in taken] == ["q0", "q1"]
    assert other.result() == ["q2", "q3"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    saves=st.lists(
        st.tuples(st.sampled_from(["q1", "q2", "q3"]), st.text(max_size=20), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_the_last_answer_to_each_question_is_the_one_kept(
    sessions: sessionmaker[Session], now: datetime, saves: list[tuple[str, str, bool]]
) -> None:
    with sessions.begin() as session:
        participant_id = get_or_create_participant(session, "hypothesis", uuid4().hex, now).id
    for step, (question_id, text, skipped) in enumerate(saves):
        with sessions.begin() as session:
            save_answer(
                session,
                answer(
                    participant_id, question_id, now + timedelta(seconds=step), text=text, skipped=skipped
                ),
            )
    expected = {question_id: (text.replace("\x00", ""), skipped) for question_id, text, skipped in saves}
    with sessions.begin() as session:
        kept = {a.question_id: (a.text, a.skipped) for a in answers_for(session, participant_id)}
    assert kept == expected

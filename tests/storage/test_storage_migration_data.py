"""Migrations that move data, run on a database that has data in it."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from storage.db import alembic_config, upgrade
from storage.types import UTCDateTime

NOW = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)

participants = sa.table(
    "participants", sa.column("id", sa.String), sa.column("created_at", UTCDateTime()),
    sa.column("age_band", sa.String), sa.column("city", sa.String), sa.column("neighbourhood", sa.String))
states = sa.table(
    "conversation_states", sa.column("participant_id", sa.String), sa.column("data", sa.JSON),
    sa.column("version", sa.Integer), sa.column("updated_at", UTCDateTime()))
answers_0002 = sa.table(
    "answers", sa.column("id", sa.Integer), sa.column("participant_id", sa.String),
    sa.column("campaign_id", sa.String), sa.column("campaign_version", sa.Integer),
    sa.column("question_id", sa.String), sa.column("option_ids", sa.JSON(none_as_null=True)),
    sa.column("text", sa.String), sa.column("skipped", sa.Boolean), sa.column("language", sa.String),
    sa.column("answered_at", UTCDateTime()), sa.column("understanding_pending", sa.Boolean))

ANNA, BEN = "a" * 32, "b" * 32


def seed_0002(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(participants), [
            {"id": ANNA, "created_at": NOW, "age_band": "15-17", "city": "lyon", "neighbourhood": "vaise"},
            {"id": BEN, "created_at": NOW, "age_band": None, "city": None, "neighbourhood": None},
        ])
        connection.execute(sa.insert(states), [
            {"participant_id": ANNA, "data": {"v": 1, "completed": ["my-city"]}, "version": 3,
             "updated_at": NOW},
            {"participant_id": BEN, "data": {"v": 1, "completed": []}, "version": 1, "updated_at": NOW},
        ])
        base = {"campaign_id": "my-city", "campaign_version": 1, "text": None, "skipped": False,
                "language": "fr", "answered_at": NOW, "understanding_pending": False}
        connection.execute(sa.insert(answers_0002), [
            {**base, "id": 1, "participant_id": ANNA, "question_id": "getting_around", "option_ids": ["bus"]},
            {**base, "id": 2, "participant_id": ANNA, "question_id": "transport_problem",
             "option_ids": ["night", "price", "safety"], "answered_at": NOW + timedelta(minutes=1)},
            {**base, "id": 3, "participant_id": ANNA, "question_id": "change_first", "option_ids": None,
             "text": "plus de bus le soir", "answered_at": NOW + timedelta(minutes=2)},
            {**base, "id": 4, "participant_id": BEN, "question_id": "getting_around", "option_ids": [],
             "skipped": True, "language": "en"},
            {**base, "id": 5, "participant_id": BEN, "question_id": "transport_problem",
             "option_ids": ["price", "price"], "language": "en"},
        ])


def test_options_profiles_and_completions_move_out_of_json_and_back(engine: Engine) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    seed_0002(engine)
    upgrade(engine, "0003")
    with engine.connect() as connection:
        options = connection.execute(sa.text(
            "SELECT answer_id, option_id, position FROM answer_options ORDER BY answer_id, position")).all()
        profiles = connection.execute(sa.text(
            "SELECT id, age_band, city, neighbourhood FROM answers ORDER BY id")).all()
        completions = connection.execute(sa.text(
            "SELECT participant_id, campaign_id, campaign_version, city FROM survey_completions")).all()
        columns = {column["name"] for column in sa.inspect(connection).get_columns("answers")}
    assert [tuple(row) for row in options] == [
        (1, "bus", 0), (2, "night", 0), (2, "price", 1), (2, "safety", 2), (5, "price", 0)]
    assert [tuple(row) for row in profiles] == [
        (1, "15-17", "lyon", "vaise"), (2, "15-17", "lyon", "vaise"), (3, "15-17", "lyon", "vaise"),
        (4, None, None, None), (5, None, None, None)]
    assert [tuple(row) for row in completions] == [(ANNA, "my-city", 1, "lyon")]
    assert "option_ids" not in columns

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    with engine.connect() as connection:
        restored = connection.execute(
            sa.select(answers_0002.c.id, answers_0002.c.option_ids).order_by(answers_0002.c.id)).all()
    assert [tuple(row) for row in restored] == [
        (1, ["bus"]), (2, ["night", "price", "safety"]), (3, None), (4, None), (5, ["price"])]

"""Answers fit for aggregation: chosen options as rows, the answerer's profile kept on each answer,
and a record of finished campaigns.

Existing data moves over: each JSON array of option ids becomes rows of ``answer_options``; answers
get the age band, city and neighbourhood their author has now (the best that is known about the
past); campaigns listed as completed in conversation states become ``survey_completions`` dated by
their author's last answer to them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE = ("age_band", "city", "neighbourhood")

# The one-off moves out of JSON need each backend's JSON functions; nothing after this does.
OPTIONS_FROM_JSON = {
    "sqlite": """
        INSERT INTO answer_options (answer_id, option_id, position)
        SELECT answers.id, item.value, MIN(item.key)
        FROM answers, json_each(answers.option_ids) AS item
        WHERE answers.option_ids IS NOT NULL AND json_type(answers.option_ids) = 'array'
        GROUP BY answers.id, item.value
    """,
    "postgresql": """
        INSERT INTO answer_options (answer_id, option_id, position)
        SELECT answers.id, item.value, MIN(item.ordinality) - 1
        FROM answers
        CROSS JOIN LATERAL json_array_elements_text(
            CASE WHEN json_typeof(answers.option_ids) = 'array' THEN answers.option_ids
                 ELSE '[]'::json END) WITH ORDINALITY AS item(value, ordinality)
        WHERE answers.option_ids IS NOT NULL
        GROUP BY answers.id, item.value
    """,
}
COMPLETED_FROM_STATES = {
    "sqlite": """
        SELECT conversation_states.participant_id, item.value AS campaign_id
        FROM conversation_states, json_each(conversation_states.data, '$.completed') AS item
        WHERE json_type(conversation_states.data, '$.completed') = 'array'
    """,
    "postgresql": """
        SELECT conversation_states.participant_id, item.value AS campaign_id
        FROM conversation_states
        CROSS JOIN LATERAL json_array_elements_text(
            CASE WHEN json_typeof(conversation_states.data -> 'completed') = 'array'
                 THEN conversation_states.data -> 'completed' ELSE '[]'::json END) AS item(value)
    """,
}
OPTIONS_TO_JSON = {
    "sqlite": """
        UPDATE answers SET option_ids = (
            SELECT json_group_array(option_id) FROM (
                SELECT option_id FROM answer_options
                WHERE answer_options.answer_id = answers.id ORDER BY position))
        WHERE EXISTS (SELECT 1 FROM answer_options WHERE answer_options.answer_id = answers.id)
    """,
    "postgresql": """
        UPDATE answers SET option_ids = (
            SELECT json_agg(option_id ORDER BY position) FROM answer_options
            WHERE answer_options.answer_id = answers.id)
        WHERE EXISTS (SELECT 1 FROM answer_options WHERE answer_options.answer_id = answers.id)
    """,
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "answer_options",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("option_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"],
                                name=op.f("fk_answer_options_answer_id_answers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("answer_id", "option_id", name=op.f("pk_answer_options")),
    )
    op.create_index(op.f("ix_answer_options_option_id"), "answer_options", ["option_id"])
    for column in PROFILE:
        op.add_column("answers", sa.Column(column, sa.String(), nullable=True))
    op.create_index(op.f("ix_answers_city_answered_at"), "answers", ["city", "answered_at"])
    op.create_table(
        "survey_completions",
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("campaign_version", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("age_band", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("neighbourhood", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_survey_completions_participant_id_participants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id", "campaign_id", name=op.f("pk_survey_completions")),
    )
    op.create_index(op.f("ix_survey_completions_city_completed_at"), "survey_completions",
                    ["city", "completed_at"])

    op.execute(OPTIONS_FROM_JSON[dialect])
    op.execute(
        "UPDATE answers SET "
        + ", ".join(f"{column} = (SELECT participants.{column} FROM participants "
                    "WHERE participants.id = answers.participant_id)" for column in PROFILE)
    )
    op.execute(f"""
        INSERT INTO survey_completions (participant_id, campaign_id, campaign_version, completed_at,
                                        age_band, city, neighbourhood)
        SELECT done.participant_id, done.campaign_id, MAX(answers.campaign_version),
               MAX(answers.answered_at), participants.age_band, participants.city,
               participants.neighbourhood
        FROM ({COMPLETED_FROM_STATES[dialect]}) AS done
        JOIN answers ON answers.participant_id = done.participant_id
                    AND answers.campaign_id = done.campaign_id
        JOIN participants ON participants.id = done.participant_id
        GROUP BY done.participant_id, done.campaign_id, participants.age_band, participants.city,
                 participants.neighbourhood
    """)
    # SQLite drops a plain column in place (3.35+); a batch rebuild would drop and recreate
    # answers, and the foreign key's ON DELETE CASCADE would empty answer_options on the way.
    op.drop_column("answers", "option_ids")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("answers", sa.Column("option_ids", sa.JSON(none_as_null=True), nullable=True))
    op.execute(OPTIONS_TO_JSON[dialect])
    op.drop_index(op.f("ix_survey_completions_city_completed_at"), table_name="survey_completions")
    op.drop_table("survey_completions")
    op.drop_index(op.f("ix_answers_city_answered_at"), table_name="answers")
    for column in reversed(PROFILE):
        op.drop_column("answers", column)
    op.drop_index(op.f("ix_answer_options_option_id"), table_name="answer_options")
    op.drop_table("answer_options")

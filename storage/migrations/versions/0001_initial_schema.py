"""Initial schema: participants and their identities, consents, conversation states,
campaigns, answers and the handled-message log.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _participant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["participant_id"],
        ["participants.id"],
        name=op.f(f"fk_{table}_participant_id_participants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("age_band", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("neighbourhood", sa.String(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )
    op.create_table(
        "channel_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _participant_fk("channel_identities"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identities")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_channel_identities_channel_external_id")),
    )
    op.create_index(op.f("ix_channel_identities_participant_id"), "channel_identities", ["participant_id"])
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("age_band", sa.String(), nullable=True),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('participation', 'parental')", name=op.f("ck_consent_records_kind")),
        _participant_fk("consent_records"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(op.f("ix_consent_records_participant_id"), "consent_records", ["participant_id"])
    op.create_table(
        "conversation_states",
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _participant_fk("conversation_states"),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_conversation_states")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("source_hash", sa.String(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("campaign_version", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(), nullable=False),
        sa.Column("option_ids", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("number", sa.Double(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(), nullable=True),
        sa.Column("topic_confidence", sa.Double(), nullable=True),
        sa.Column("understanding_pending", sa.Boolean(), nullable=False),
        _participant_fk("answers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint(
            "participant_id",
            "campaign_id",
            "question_id",
            name=op.f("uq_answers_participant_id_campaign_id_question_id"),
        ),
    )
    op.create_index(op.f("ix_answers_campaign_id_question_id"), "answers", ["campaign_id", "question_id"])
    op.create_index(
        op.f("ix_answers_pending"),
        "answers",
        ["answered_at"],
        sqlite_where=sa.text("understanding_pending"),
        postgresql_where=sa.text("understanding_pending"),
    )
    op.create_table(
        "handled_messages",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("message_key", sa.String(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        _participant_fk("handled_messages"),
        sa.PrimaryKeyConstraint("channel", "message_key", name=op.f("pk_handled_messages")),
    )
    op.create_index(op.f("ix_handled_messages_participant_id"), "handled_messages", ["participant_id"])


def downgrade() -> None:
    op.drop_table("handled_messages")
    op.drop_table("answers")
    op.drop_table("campaigns")
    op.drop_table("conversation_states")
    op.drop_table("consent_records")
    op.drop_table("channel_identities")
    op.drop_table("participants")

"""Safeguarding alerts, their steps and deliveries; scrubbed answer text; turned-away chats.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("answers", sa.Column("scrubbed_text", sa.Text(), nullable=True))
    op.create_table(
        "safeguarding_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("scrubbed", sa.Text(), nullable=False),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_safeguarding_alerts_status")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_safeguarding_alerts_participant_id_participants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_alerts")),
        sa.UniqueConstraint("ref", name=op.f("uq_safeguarding_alerts_ref")),
    )
    op.create_index(op.f("ix_safeguarding_alerts_created_at"), "safeguarding_alerts", ["created_at"])
    op.create_index(op.f("ix_safeguarding_alerts_participant_id"), "safeguarding_alerts",
                    ["participant_id"])
    op.create_table(
        "safeguarding_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["safeguarding_alerts.id"],
                                name=op.f("fk_safeguarding_steps_alert_id_safeguarding_alerts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_steps")),
    )
    op.create_index(op.f("ix_safeguarding_steps_alert_id"), "safeguarding_steps", ["alert_id"])
    op.create_table(
        "safeguarding_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.CheckConstraint("kind IN ('telegram', 'email', 'participant')",
                           name=op.f("ck_safeguarding_deliveries_kind")),
        sa.ForeignKeyConstraint(["alert_id"], ["safeguarding_alerts.id"],
                                name=op.f("fk_safeguarding_deliveries_alert_id_safeguarding_alerts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safeguarding_deliveries")),
    )
    op.create_index(op.f("ix_safeguarding_deliveries_alert_id"), "safeguarding_deliveries", ["alert_id"])
    op.create_index(op.f("ix_safeguarding_deliveries_delivered_at_due_at"), "safeguarding_deliveries",
                    ["delivered_at", "due_at"])
    op.create_table(
        "turned_away",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_turned_away")),
    )
    op.create_index(op.f("ix_turned_away_until"), "turned_away", ["until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_turned_away_until"), table_name="turned_away")
    op.drop_table("turned_away")
    op.drop_index(op.f("ix_safeguarding_deliveries_delivered_at_due_at"),
                  table_name="safeguarding_deliveries")
    op.drop_index(op.f("ix_safeguarding_deliveries_alert_id"), table_name="safeguarding_deliveries")
    op.drop_table("safeguarding_deliveries")
    op.drop_index(op.f("ix_safeguarding_steps_alert_id"), table_name="safeguarding_steps")
    op.drop_table("safeguarding_steps")
    op.drop_index(op.f("ix_safeguarding_alerts_participant_id"), table_name="safeguarding_alerts")
    op.drop_index(op.f("ix_safeguarding_alerts_created_at"), table_name="safeguarding_alerts")
    op.drop_table("safeguarding_alerts")
    op.drop_column("answers", "scrubbed_text")

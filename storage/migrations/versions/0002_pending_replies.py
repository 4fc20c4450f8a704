"""Pending replies: a turn's reply is kept until it is delivered; handled messages by age.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_replies")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_pending_replies_channel_address"), "pending_replies", ["channel", "address"])
    op.create_index(op.f("ix_pending_replies_due_at"), "pending_replies", ["due_at"])
    op.create_index(op.f("ix_handled_messages_handled_at"), "handled_messages", ["handled_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_handled_messages_handled_at"), table_name="handled_messages")
    op.drop_index(op.f("ix_pending_replies_due_at"), table_name="pending_replies")
    op.drop_index(op.f("ix_pending_replies_channel_address"), table_name="pending_replies")
    op.drop_table("pending_replies")

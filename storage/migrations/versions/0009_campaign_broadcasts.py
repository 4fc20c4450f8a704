"""Campaigns published from the command line, pinned participations, invitations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("partner_id", sa.String(), nullable=True))
    op.create_table(
        "campaign_runs",
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(), nullable=True),
        sa.Column("broadcast", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_runs")),
    )
    op.create_table(
        "participations",
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("campaign_version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_participations_participant_id_participants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id", "campaign_id", name=op.f("pk_participations")),
    )
    op.create_index(op.f("ix_participations_campaign_id_campaign_version"), "participations",
                    ["campaign_id", "campaign_version"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("campaign_version", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.String(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('invitation', 'reminder')", name=op.f("ck_invitations_kind")),
        sa.CheckConstraint(
            "status IN ('queued', 'claimed', 'sending', 'sent', 'failed', 'blocked', 'dropped')",
            name=op.f("ck_invitations_status")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_invitations_participant_id_participants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("campaign_id", "participant_id", "kind",
                            name=op.f("uq_invitations_campaign_id_participant_id_kind")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_invitations_participant_id"), "invitations", ["participant_id"])
    op.create_index(op.f("ix_invitations_status_due_at"), "invitations", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_invitations_status_due_at"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_participant_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_participations_campaign_id_campaign_version"), table_name="participations")
    op.drop_table("participations")
    op.drop_table("campaign_runs")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("partner_id")
        batch.drop_column("source")

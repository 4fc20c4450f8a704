"""Councils' replies to the young people of their city, sent as invitations of a third kind.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kinds(kinds: str) -> None:
    # SQLite cannot change a CHECK constraint in place: batch mode rebuilds the table (nothing
    # refers to invitations, so the rebuild cascades nowhere).
    with op.batch_alter_table("invitations") as batch:
        batch.drop_constraint(op.f("ck_invitations_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_invitations_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    op.create_table(
        "council_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.String(), nullable=False),
        sa.Column("campaign_id", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("text_fr", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_replies")),
        sa.UniqueConstraint("council_id", "campaign_id",
                            name=op.f("uq_council_replies_council_id_campaign_id")),
    )
    op.create_index(op.f("ix_council_replies_campaign_id_city"), "council_replies", ["campaign_id", "city"])
    _kinds("'invitation', 'reminder', 'council_reply'")


def downgrade() -> None:
    op.execute("DELETE FROM invitations WHERE kind = 'council_reply'")
    _kinds("'invitation', 'reminder'")
    op.drop_index(op.f("ix_council_replies_campaign_id_city"), table_name="council_replies")
    op.drop_table("council_replies")

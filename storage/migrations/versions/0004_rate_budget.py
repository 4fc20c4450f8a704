"""One send budget per bot shared by all workers; replies remember the state version they answer.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("next_slot", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_budgets")),
    )
    with op.batch_alter_table("pending_replies") as batch:
        batch.add_column(sa.Column("state_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pending_replies") as batch:
        batch.drop_column("state_version")
    op.drop_table("rate_budgets")

"""The results pages' aggregates, kept between requests.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_snapshots",
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("campaigns", sa.String(), nullable=False),
        sa.Column("aggregates", sa.JSON(), nullable=False),
        sa.Column("answer_mark", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("city", "campaigns", name=op.f("pk_result_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("result_snapshots")

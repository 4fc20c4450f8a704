"""Answers keep the places and transport lines the NLU found in them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("answers", sa.Column("mentions", sa.JSON(), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+): a batch rebuild would cascade-delete answer_options.
    op.drop_column("answers", "mentions")

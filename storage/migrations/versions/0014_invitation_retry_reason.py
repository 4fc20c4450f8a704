"""Why a queued invitation came back from Telegram (its flood limit, or no connection), so that a
campaign's status tells what its messages are waiting for.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite adds a CHECK constraint by rebuilding the table in batch mode (nothing refers to it).
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("retry_reason", sa.String(), nullable=True))
        batch.create_check_constraint(op.f("ck_invitations_retry_reason"),
                                      "retry_reason IN ('telegram_limit', 'unreachable')")


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_constraint(op.f("ck_invitations_retry_reason"), type_="check")
        batch.drop_column("retry_reason")

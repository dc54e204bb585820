"""step updates preference

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 00:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows keep hearing of every step, as before there was a choice.
    with op.batch_alter_table("notification_preference", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("step_updates", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("notification_preference", schema=None) as batch_op:
        batch_op.alter_column("step_updates", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("notification_preference", schema=None) as batch_op:
        batch_op.drop_column("step_updates")

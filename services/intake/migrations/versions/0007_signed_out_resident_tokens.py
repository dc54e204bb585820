"""signed-out resident tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_ended_session",
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    with op.batch_alter_table("intake_ended_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_ended_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_ended_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_ended_session_expires_at"))
    op.drop_table("intake_ended_session")

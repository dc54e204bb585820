"""staff session versions, signed-out tokens and failed sign-ins

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:55:00.000000
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
    # Tokens issued before this revision carry no session version and are refused: every
    # staff member signs in once more after the upgrade.
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False)
        )
    op.create_table(
        "verification_ended_session",
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    with op.batch_alter_table("verification_ended_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_ended_session_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "verification_sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("failed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_sign_in_failure_failed_at"), ["failed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_sign_in_failure_key"), ["key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_sign_in_failure_key"))
        batch_op.drop_index(batch_op.f("ix_verification_sign_in_failure_failed_at"))
    op.drop_table("verification_sign_in_failure")
    with op.batch_alter_table("verification_ended_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_ended_session_expires_at"))
    op.drop_table("verification_ended_session")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("session_version")

"""walk-in scans kept across a refusal

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "verification_walk_in_scan",
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("staff_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token", "kind"),
    )
    with op.batch_alter_table("verification_walk_in_scan", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_walk_in_scan_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_walk_in_scan_token"), ["token"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_walk_in_scan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_walk_in_scan_token"))
        batch_op.drop_index(batch_op.f("ix_verification_walk_in_scan_created_at"))
    op.drop_table("verification_walk_in_scan")

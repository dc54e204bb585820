"""family members as letter subjects; residents' kept KTP and KK

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_kept_document",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resident_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["resident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resident_kept_document", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resident_kept_document_resident_id"), ["resident_id"], unique=False
        )
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "subject_resident_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(sa.Column("subject_register_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.drop_column("subject_register_version")
        batch_op.drop_column("subject_resident_id")
    op.drop_table("resident_kept_document")

"""application records for the kabupaten view

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 09:57:47.382906
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the task projection from the public events from now on; letters submitted
    # before this revision are not counted (their final outcome is not in the task table).
    op.create_table(
        "verification_application",
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kecamatan_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kabupaten_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("letter_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("submitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("application_id"),
    )
    with op.batch_alter_table("verification_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_application_desa_code"), ["desa_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_application_kabupaten_code"),
            ["kabupaten_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_verification_application_kecamatan_code"),
            ["kecamatan_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_verification_application_submitted_at"), ["submitted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_application_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_verification_application_kecamatan_code"))
        batch_op.drop_index(batch_op.f("ix_verification_application_kabupaten_code"))
        batch_op.drop_index(batch_op.f("ix_verification_application_desa_code"))

    op.drop_table("verification_application")

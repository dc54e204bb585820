"""remote signers: a camat marked by the kabupaten operator as signing through BSrE

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:05:00.000000
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
        "remote_signer",
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nik", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("installed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("installed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("signer_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("desa_code", "role"),
    )
    op.create_index(
        op.f("ix_remote_signer_installed_at"), "remote_signer", ["installed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_remote_signer_installed_at"), table_name="remote_signer")
    op.drop_table("remote_signer")

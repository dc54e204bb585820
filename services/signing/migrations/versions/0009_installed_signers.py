"""installed signers (certificates and keys a kabupaten operator adds at runtime)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00.000000
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
        "installed_signer",
        sa.Column("desa_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("certificate_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key_pem", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("not_after", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("installed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("installed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("desa_code", "role"),
    )
    op.create_index(
        op.f("ix_installed_signer_installed_at"), "installed_signer", ["installed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_installed_signer_installed_at"), table_name="installed_signer")
    op.drop_table("installed_signer")

"""kecamatan register number and camat approval on letters

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("letter") as batch:
        batch.add_column(
            sa.Column(
                "kecamatan_code",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column(
                "kecamatan_register",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("kecamatan_approved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    # The default only fills existing rows; the model gives new ones theirs.
    with op.batch_alter_table("letter") as batch:
        batch.alter_column("kecamatan_code", server_default=None)
        batch.alter_column("kecamatan_register", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("letter") as batch:
        batch.drop_column("kecamatan_approved_at")
        batch.drop_column("kecamatan_register")
        batch.drop_column("kecamatan_code")

"""installed signers: the printed name of the holder (the camat's approval stamp)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("installed_signer") as batch:
        batch.add_column(
            sa.Column(
                "signer_name",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
    # The default only fills existing rows; the model gives new ones theirs.
    with op.batch_alter_table("installed_signer") as batch:
        batch.alter_column("signer_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("installed_signer") as batch:
        batch.drop_column("signer_name")

"""kecamatan accounts: the holder's name, printed on the camat's approval stamp

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column(
                "full_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
            )
        )
    # The default only fills existing rows; the model gives new ones theirs.
    with op.batch_alter_table("staff") as batch:
        batch.alter_column("full_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("full_name")

"""letter fields from the population register

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:15:00.000000
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
    with op.batch_alter_table("letter_application") as batch:
        batch.add_column(sa.Column("register_version", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "register_fields",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",  # earlier applications: the resident typed every field
            )
        )
    with op.batch_alter_table("letter_application") as batch:
        batch.alter_column("register_fields", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("letter_application") as batch:
        batch.drop_column("register_fields")
        batch.drop_column("register_version")

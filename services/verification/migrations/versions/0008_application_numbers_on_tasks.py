"""application numbers on tasks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tasks made before numbers existed keep "": their events carried none.
    with op.batch_alter_table("verification_task", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "application_number",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="",
            )
        )
        batch_op.create_index(
            batch_op.f("ix_verification_task_application_number"),
            ["application_number"],
            unique=False,
        )
    with op.batch_alter_table("verification_task", schema=None) as batch_op:
        batch_op.alter_column("application_number", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("verification_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_task_application_number"))
        batch_op.drop_column("application_number")

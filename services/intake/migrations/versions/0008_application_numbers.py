"""application numbers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 00:40:00.000000
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
    op.create_table(
        "application_number_counter",
        sa.Column("letter_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("letter_type", "year"),
    )
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.create_unique_constraint("uq_letter_application_number", ["number"])


def downgrade() -> None:
    with op.batch_alter_table("letter_application", schema=None) as batch_op:
        batch_op.drop_constraint("uq_letter_application_number", type_="unique")
        batch_op.drop_column("number")
    op.drop_table("application_number_counter")

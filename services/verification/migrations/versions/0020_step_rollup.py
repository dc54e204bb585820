"""the kabupaten view's step times kept per day, kecamatan and role group

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from services.verification.models import SECONDS
from services.verification.step_rollup import rebuild

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    string = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "verification_step_rollup",
        sa.Column("kabupaten_code", string(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kecamatan_code", string(), nullable=False),
        sa.Column("role_group", string(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("working_seconds", SECONDS, nullable=False),
        sa.Column("elapsed_seconds", SECONDS, nullable=False),
        sa.PrimaryKeyConstraint("kabupaten_code", "day", "kecamatan_code", "role_group"),
    )
    # Every step decided so far, from the tasks (one statement on PostgreSQL).
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("verification_step_rollup")

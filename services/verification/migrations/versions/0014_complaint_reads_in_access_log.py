"""complaint reads in the residents' access log

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Adding a column fires no UPDATE trigger: the table stays append-only (0012).
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complaint_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_personal_data_access_complaint_id"), ["complaint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("personal_data_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_access_complaint_id"))
        batch_op.drop_column("complaint_id")
